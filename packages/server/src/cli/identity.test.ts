import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { authenticateApiKey } from '../credentials/api-keys.js';
import { openStorage, type Storage } from '../db/database.js';
import { createTestDatabase } from '../test-support/database.js';
import { runServerCommand } from '../test-support/server-process.js';

/** The CLI against a fresh database of its own. */
async function freshCli() {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'emisar-cli-'));
  const env: NodeJS.ProcessEnv = {
    EMISAR_BASE_URL: 'http://localhost:8080',
    ...(database.url
      ? {
          DATABASE_URL: database.url,
          EMISAR_SECRET_KEY: randomBytes(32).toString('base64'),
          EMISAR_SIGNING_KEY: generateKeyPairSync('ed25519')
            .privateKey.export({ format: 'pem', type: 'pkcs8' })
            .toString(),
        }
      : { EMISAR_DATA_DIR: dataDir }),
  };
  return {
    async run(args: string[]) {
      const result = await runServerCommand(args, env);
      return {
        ...result,
        json: result.code === 0 && args.includes('--json') ? JSON.parse(result.stdout) : null,
      };
    },
    async withDb<T>(fn: (db: Storage['db']) => Promise<T>): Promise<T> {
      const storage = await openStorage(
        database.target.kind === 'pglite' ? { kind: 'pglite', dataDir } : database.target,
      );
      try {
        return await fn(storage.db);
      } finally {
        await storage.close();
      }
    },
    async drop() {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The built `emisar-server` binary against a fresh database (run `npm run build` first).
 * Each command is a process that opens and migrates the database: minutes under a loaded machine.
 */
describe('emisar-server identity commands', () => {
  let cli: Awaited<ReturnType<typeof freshCli>>;
  beforeAll(async () => {
    cli = await freshCli();
  });
  afterAll(() => cli.drop());
  const run = (args: string[]) => cli.run(args);

  it('bootstrap before any workspace exists fails with a hint', async () => {
    const empty = await freshCli();
    try {
      const result = await empty.run(['bootstrap']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/account create/);
    } finally {
      await empty.drop();
    }
  }, 180_000);

  it('creates a workspace, keys, sets the plan and prints a bootstrap link, each once and as JSON', async () => {
    const account = await run([
      'account',
      'create',
      '--email',
      'Root@Example.test',
      '--workspace',
      'Ops Team',
      '--json',
    ]);
    expect(account.json).toMatchObject({
      slug: 'ops-team',
      owner: 'root@example.test',
      plan: 'free',
    });

    const mcp = await run([
      'api-key',
      'create',
      '--account',
      'ops-team',
      '--kind',
      'mcp',
      '--json',
    ]);
    expect(mcp.json).toMatchObject({ kind: 'mcp', member: 'root@example.test' });
    expect(mcp.json.secret).toMatch(/^emk-[A-Za-z0-9_-]{43}$/);
    const exportKey = await run([
      'api-key',
      'create',
      '--account',
      'ops-team',
      '--kind',
      'audit_export',
      '--json',
    ]);
    expect(exportKey.json).toMatchObject({ kind: 'audit_export', member: null, expires_at: null });

    const enroll = await run([
      'enrollment-key',
      'create',
      '--account',
      'ops-team',
      '--group',
      'web',
      '--reusable',
      '--max-uses',
      '3',
      '--json',
    ]);
    expect(enroll.json).toMatchObject({ reusable: true, group: 'web' });
    expect(enroll.json.secret).toMatch(/^emkey-enroll-/);

    const plan = await run(['plan', 'set', 'ops-team', 'team', '--json']);
    expect(plan.json).toEqual({ account: 'ops-team', from: 'free', to: 'team' });

    const boot = await run(['bootstrap', '--json']);
    expect(boot.json.email).toBe('root@example.test');
    expect(boot.json.link).toMatch(
      /^http:\/\/localhost:8080\/sign_in\/bootstrap#embs-[A-Za-z0-9_-]{43}$/,
    );

    await cli.withDb(async (db) => {
      const principal = await authenticateApiKey(db, mcp.json.secret, systemClock);
      expect(principal).toMatchObject({ kind: 'mcp', lineageId: expect.any(String) });
      const row = await db
        .selectFrom('accounts')
        .select(['plan'])
        .where('slug', '=', 'ops-team')
        .executeTakeFirstOrThrow();
      expect(row.plan).toBe('team');
      const events = await db.selectFrom('audit_events').select('event_type').execute();
      expect(events.map((e) => e.event_type)).toEqual(
        expect.arrayContaining([
          'account.created',
          'api_key.created',
          'enrollment_key.created',
          'account.plan_changed',
        ]),
      );
    });
  }, 180_000);

  it('refuses bad input with exit 2 and an unknown account with exit 1', async () => {
    const badPlan = await run(['plan', 'set', 'ops-team', 'platinum']);
    expect(badPlan.code).toBe(2);
    expect(badPlan.stderr).toMatch(/Unknown plan/);
    const badKind = await run(['api-key', 'create', '--account', 'ops-team', '--kind', 'root']);
    expect(badKind.code).toBe(2);
    const reserved = await run([
      'account',
      'create',
      '--email',
      'x@example.test',
      '--workspace',
      'API',
      '--slug',
      'api',
    ]);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/reserved/);
    const missing = await run(['enrollment-key', 'create', '--account', 'nope-nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no account "nope-nope"/);
  }, 180_000);
});

describe('emisar-server workspace administration', () => {
  let cli: Awaited<ReturnType<typeof freshCli>>;
  beforeAll(async () => {
    cli = await freshCli();
  });
  afterAll(() => cli.drop());
  const run = (args: string[]) => cli.run(args);
  const inAccount = (...args: string[]) => run([...args, '--account', 'ops-admin', '--json']);

  it('lists and revokes keys, flips the agent stop switch, lists runners and members, audited as the CLI', async () => {
    await run(['account', 'create', '--email', 'admin@example.test', '--workspace', 'Ops Admin']);
    const apiKey = (await inAccount('api-key', 'create')).json;
    const listed = (await inAccount('api-key', 'list')).json;
    expect(listed.api_keys).toEqual([
      expect.objectContaining({ id: apiKey.id, kind: 'mcp', revoked_at: null }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(apiKey.secret);
    expect((await inAccount('api-key', 'revoke', apiKey.id)).json).toEqual({
      id: apiKey.id,
      revoked: true,
    });
    const [revoked] = (await inAccount('api-key', 'list')).json.api_keys;
    expect(revoked.revoked_at).not.toBeNull();

    const enrollmentKey = (await inAccount('enrollment-key', 'create')).json;
    expect((await inAccount('enrollment-key', 'list')).json.enrollment_keys).toEqual([
      expect.objectContaining({ id: enrollmentKey.id, reusable: false, revoked_at: null }),
    ]);
    await inAccount('enrollment-key', 'revoke', enrollmentKey.id);
    const [revokedEnrollment] = (await inAccount('enrollment-key', 'list')).json.enrollment_keys;
    expect(revokedEnrollment.revoked_at).not.toBeNull();

    expect((await inAccount('agents', 'stop')).json).toMatchObject({
      stopped: true,
      changed: true,
    });
    expect((await inAccount('agents', 'resume')).json).toMatchObject({
      stopped: false,
      changed: true,
    });
    expect((await inAccount('runner', 'list')).json).toEqual({ runners: [] });
    expect((await inAccount('members', 'list')).json.members).toEqual([
      expect.objectContaining({ email: 'admin@example.test', role: 'owner' }),
    ]);

    await cli.withDb(async (db) => {
      const events = await db
        .selectFrom('audit_events')
        .select(['event_type', 'actor_kind'])
        .where('event_type', 'in', [
          'api_key.revoked',
          'enrollment_key.revoked',
          'account.agents_stopped',
          'account.agents_resumed',
        ])
        .execute();
      expect(events.map((e) => `${e.event_type} ${e.actor_kind}`).sort()).toEqual([
        'account.agents_resumed system',
        'account.agents_stopped system',
        'api_key.revoked system',
        'enrollment_key.revoked system',
      ]);
    });
  }, 300_000);

  it('names what it cannot find', async () => {
    await run(['account', 'create', '--email', 'admin2@example.test', '--workspace', 'Ops Two']);
    const id = randomUUID();
    for (const [args, what] of [
      [['runner', 'disable', id], `runner ${id}`],
      [['api-key', 'revoke', id], `API key ${id}`],
    ] as const) {
      const result = await run([...args, '--account', 'ops-two']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`emisar-server: no ${what} in this workspace\n`);
    }
  }, 180_000);
});
