import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { EMPTY_CATALOG } from '../catalog/published.js';
import { insertMember } from '../test-support/accounts.js';
import { signInWithCode, signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { ingestRunnerState } from './runner-state.js';
import { newEnrollmentKey, refresh, register, registration } from './test-support/enrollment.js';
import { REPO_PACKS_DIR, repoPacksState, withPackHash } from './test-support/fixtures.js';
import { startRealRunner } from './test-support/runner.js';
import { TestRunnerSocket } from './test-support/ws-client.js';

type RunnerView = Record<string, unknown> & {
  id: string;
  online: boolean;
  issues: { code: string }[];
};

describe(`runner and pack trust administration (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  // Each test gets a workspace of its own: runner counts and pack candidates are per account.
  let owner: Browser;
  let accountId: string;
  let base: string;
  let workspaces = 0;

  beforeAll(async () => {
    h = await startTestApp();
  });
  beforeEach(async () => {
    workspaces += 1;
    const signedUp = await signUpOwner(h, `owner${workspaces}@fleet.test`, `Fleet ${workspaces}`);
    ({ browser: owner, accountId, base } = signedUp);
  });
  afterAll(() => h.close());

  async function enroll(hostname: string, extra: Record<string, unknown> = {}) {
    const { key } = await newEnrollmentKey(h, accountId);
    const response = await register(h.url, key, registration(hostname, extra));
    expect(response.status).toBe(201);
    const row = await h.storage.db
      .selectFrom('runners')
      .select('id')
      .where('account_id', '=', accountId)
      .where('name', '=', hostname)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return { id: row.id, token: response.body.token as string, key };
  }
  async function connect(token: string, hostname: string, state: Record<string, unknown> = {}) {
    const socket = await TestRunnerSocket.connect(h.url, token);
    socket.send({ ...(await repoPacksState()), hostname, ...state });
    return socket;
  }
  const getRunner = async (id: string) =>
    (await owner.request<{ runner: RunnerView }>('GET', `${base}/runners/${id}`)).body.runner;
  async function eventually(check: () => Promise<boolean>) {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const auditTypes = async () =>
    (
      await h.storage.db
        .selectFrom('audit_events')
        .select('event_type')
        .where('account_id', '=', accountId)
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);

  it('lists and shows runners with presence, group, issues and advertised actions', async () => {
    const { id, token } = await enroll('adm-1', { group: 'web' });
    const socket = await connect(token, 'adm-1', { group: 'db' });
    await eventually(async () => ((await getRunner(id)).actions as unknown[]).length > 0);
    const runner = await getRunner(id);
    expect(runner).toMatchObject({
      name: 'adm-1',
      group: 'web',
      online: true,
      disabled: false,
      ref: expect.stringMatching(/^adm-1~/),
    });
    expect(runner.issues.map((i) => i.code)).toContain('group_mismatch');
    expect(runner.actions).toContainEqual(
      expect.objectContaining({ id: 'linux.uptime', trust: 'untrusted' }),
    );
    const list = await owner.request<{ runners: RunnerView[] }>('GET', `${base}/runners`);
    expect(list.body.runners.find((r) => r.id === id)).toMatchObject({ online: true });
    // Its name and its ref name it as well as its id.
    for (const named of ['adm-1', encodeURIComponent(String(runner.ref))]) {
      const byName = await owner.request<{ runner: RunnerView }>('GET', `${base}/runners/${named}`);
      expect(byName.body.runner).toMatchObject({ id, name: 'adm-1' });
    }
    expect((await owner.request('GET', `${base}/runners/adm-404`)).status).toBe(404);

    // An admin moves it: the issue goes once the group matches what the host asserts.
    const moved = await owner.request<{ runner: RunnerView }>('PATCH', `${base}/runners/${id}`, {
      group: 'db',
    });
    expect(moved.body.runner).toMatchObject({ group: 'db' });
    expect(moved.body.runner.issues.map((i) => i.code)).not.toContain('group_mismatch');

    socket.close();
    await eventually(async () => (await getRunner(id)).online === false);
    expect(await auditTypes()).toEqual(
      expect.arrayContaining(['runner.enrolled', 'runner.group_changed']),
    );
  });

  it('a member sees only runners and packs within their reach (others 404)', async () => {
    const inWeb = await enroll('reach-web', { group: 'web' });
    const inDb = await enroll('reach-db', { group: 'db' });
    const socket = await connect(inWeb.token, 'reach-web');
    await eventually(async () => ((await getRunner(inWeb.id)).actions as unknown[]).length > 0);
    socket.close();
    const member = await insertMember(h.storage.db, accountId, 'viewer');
    await h.storage.db
      .updateTable('memberships')
      .set({
        runner_access: JSON.stringify({ mode: 'restricted', groups: ['web'], runner_ids: [] }),
        pack_access: JSON.stringify({ mode: 'restricted', pack_ids: ['diagnostics'] }),
      })
      .where('id', '=', member.membershipId)
      .execute();
    const viewer = await signInWithCode(h, member.email);
    const list = await viewer.request<{ runners: RunnerView[] }>('GET', `${base}/runners`);
    expect(list.body.runners.map((r) => r.id)).toEqual([inWeb.id]);
    expect((await viewer.request('GET', `${base}/runners/${inDb.id}`)).status).toBe(404);
    const seen = await viewer.request<{ runner: { actions: { pack_id: string }[] } }>(
      'GET',
      `${base}/runners/${inWeb.id}`,
    );
    expect(new Set(seen.body.runner.actions.map((a) => a.pack_id))).toEqual(
      new Set(['diagnostics']),
    );
    const packs = await viewer.request<{ pack_versions: { pack_id: string }[] }>(
      'GET',
      `${base}/packs`,
    );
    expect(packs.body.pack_versions.map((v) => v.pack_id)).toEqual(['diagnostics']);
    expect((await viewer.request('POST', `${base}/runners/${inWeb.id}/disable`, {})).status).toBe(
      403,
    );
    for (const r of [inWeb, inDb])
      expect((await owner.request('DELETE', `${base}/runners/${r.id}`)).status).toBe(200);
  });

  it('disable sends shutdown runner_disabled and refuses the socket (403); enable re-checks the plan', async () => {
    const { id, token } = await enroll('adm-2');
    const socket = await connect(token, 'adm-2');
    await eventually(async () => (await getRunner(id)).online);
    expect((await owner.request('POST', `${base}/runners/${id}/disable`, {})).status).toBe(200);
    await socket.until(() => socket.closed);
    expect(socket.frames.filter((f) => f.type === 'shutdown')).toEqual([
      { type: 'shutdown', protocol_version: 1, reason: 'runner_disabled' },
    ]);
    expect(await TestRunnerSocket.open(h.url, token)).toEqual({
      status: 403,
      body: { error: 'runner_disabled' },
    });
    expect(await getRunner(id)).toMatchObject({ disabled: true, online: false });

    // Free plan: three active runners, then enabling a fourth is 402.
    const others = [await enroll('adm-3'), await enroll('adm-4'), await enroll('adm-5')];
    const active = await h.storage.db
      .selectFrom('runners')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', accountId)
      .where('deleted_at', 'is', null)
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect(Number(active.n)).toBe(3);
    const refused = await owner.request<{ error: { id: string } }>(
      'POST',
      `${base}/runners/${id}/enable`,
      {},
    );
    expect(refused.status).toBe(402);
    expect(refused.body.error.id).toBe('runner_limit_exceeded');
    expect((await owner.request('DELETE', `${base}/runners/${others[1]!.id}`)).status).toBe(200);
    expect((await owner.request('POST', `${base}/runners/${id}/enable`, {})).status).toBe(200);
    const again = await TestRunnerSocket.connect(h.url, token);
    again.close();
    expect(await auditTypes()).toEqual(
      expect.arrayContaining(['runner.disabled', 'runner.enabled', 'runner.deleted']),
    );
  });

  it('delete sends shutdown runner_revoked, revokes the tokens and hides the runner', async () => {
    const victim = await enroll('adm-3');
    const { token } = await (async () => {
      // Re-enrolled by a fresh key once an admin marks it awaiting re-enrollment.
      await owner.request('POST', `${base}/runners/${victim.id}/awaiting-reenrollment`, {
        awaiting: true,
      });
      const { key } = await newEnrollmentKey(h, accountId);
      const response = await register(h.url, key, registration('adm-3'));
      expect(response.status).toBe(201);
      return { token: response.body.token as string };
    })();
    const socket = await connect(token, 'adm-3');
    await eventually(async () => (await getRunner(victim.id)).online);
    expect((await owner.request('DELETE', `${base}/runners/${victim.id}`)).status).toBe(200);
    await socket.until(() => socket.closed);
    expect(socket.frames.filter((f) => f.type === 'shutdown')).toEqual([
      { type: 'shutdown', protocol_version: 1, reason: 'runner_revoked' },
    ]);
    expect(await TestRunnerSocket.open(h.url, token)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });
    expect(await refresh(h.url, token)).toEqual({ status: 401, body: { error: 'token_invalid' } });
    expect((await owner.request('GET', `${base}/runners/${victim.id}`)).status).toBe(404);
    expect(await auditTypes()).toEqual(
      expect.arrayContaining(['runner.awaiting_reenrollment', 'runner.reenrolled']),
    );
  });

  it('pack trust: candidates with their execution diff; trust, reject, revoke, retirement override, delete', async () => {
    const deps = { catalog: EMPTY_CATALOG, clock: h.clock, bus: h.bus };
    await enroll('pk-a');
    await enroll('pk-b');
    const rows = await h.storage.db
      .selectFrom('runners')
      .select(['id', 'connection_generation'])
      .where('account_id', '=', accountId)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    const [a, b] = rows;
    const state = await repoPacksState();
    const conn = (r: typeof a) => ({
      accountId,
      runnerId: r!.id,
      generation: r!.connection_generation,
    });
    await ingestRunnerState(h.storage.db, deps, conn(a), state);
    const edited = withPackHash(
      await repoPacksState((d) =>
        d.id === 'linux.uptime'
          ? { ...d, execution: { ...d.execution, argv: ['-p', '--since'] } }
          : d,
      ),
      'linux',
      `sha256:${'f'.repeat(64)}`,
    );
    await ingestRunnerState(h.storage.db, deps, conn(b), edited);

    type Version = {
      id: string;
      pack_id: string;
      trust_state: string;
      trusted_hash: string | null;
      candidates: { id: string; hash: string; state: string; runners: number }[];
    };
    const linux = async () =>
      (
        await owner.request<{ pack_versions: Version[] }>('GET', `${base}/packs`)
      ).body.pack_versions.find((v) => v.pack_id === 'linux')!;
    const pending = await linux();
    expect(pending.trust_state).toBe('pending');
    expect(pending.candidates.map((c) => [c.state, c.runners])).toEqual([
      ['pending', 1],
      ['pending', 1],
    ]);
    const original = pending.candidates.find((c) => c.hash === state.packs.linux!.hash)!;
    const other = pending.candidates.find((c) => c.hash !== state.packs.linux!.hash)!;

    const trust = await owner.request(
      'POST',
      `${base}/packs/${pending.id}/candidates/${original.id}/trust`,
      {},
    );
    expect(trust.status).toBe(200);
    expect(await linux()).toMatchObject({ trust_state: 'trusted', trusted_hash: original.hash });

    const view = await owner.request<{
      candidate: {
        execution: { action_id: string; execution: { argv: string[] } }[];
        diff: {
          changed: {
            action_id: string;
            changes: { path: string; trusted: unknown; candidate: unknown }[];
          }[];
        };
      };
    }>('GET', `${base}/packs/${pending.id}/candidates/${other.id}`);
    expect(
      view.body.candidate.execution.find((e) => e.action_id === 'linux.uptime')!.execution.argv,
    ).toEqual(['-p', '--since']);
    const uptimeChanges = view.body.candidate.diff.changed.find(
      (c) => c.action_id === 'linux.uptime',
    )!.changes;
    expect(uptimeChanges.map((c) => c.path)).toContain('execution.argv.1');
    expect(uptimeChanges).toContainEqual({
      path: 'execution.argv.1',
      trusted: null,
      candidate: '--since',
    });

    const drifted = await getRunner(b!.id);
    expect(drifted.issues.map((i) => i.code)).toContain('pack_drift');

    expect(
      (
        await owner.request(
          'POST',
          `${base}/packs/${pending.id}/candidates/${original.id}/reject`,
          {},
        )
      ).status,
    ).toBe(409);
    expect(
      (await owner.request('POST', `${base}/packs/${pending.id}/candidates/${other.id}/reject`, {}))
        .status,
    ).toBe(200);
    expect((await linux()).candidates.find((c) => c.id === other.id)!.state).toBe('rejected');
    expect((await owner.request('POST', `${base}/packs/${pending.id}/revoke`, {})).status).toBe(
      200,
    );
    expect(await linux()).toMatchObject({ trust_state: 'pending', trusted_hash: null });
    expect(
      (
        await owner.request('PUT', `${base}/packs/${pending.id}/retirement-override`, {
          override: true,
        })
      ).status,
    ).toBe(200);
    expect((await owner.request('DELETE', `${base}/packs/${pending.id}`)).status).toBe(200);
    expect(await linux()).toBeUndefined();
    expect((await auditTypes()).filter((t) => t.startsWith('pack_trust.'))).toEqual(
      expect.arrayContaining([
        'pack_trust.pending',
        'pack_trust.trusted',
        'pack_trust.rejected',
        'pack_trust.revoked',
        'pack_trust.retirement_override',
        'pack_trust.deleted',
      ]),
    );
  });

  it('two nodes: presence and disable reach the socket held by the other node', async () => {
    const nodeB = await createApp({ config: h.config, storage: h.storage, clock: h.clock });
    await nodeB.listen({ port: 0, host: '127.0.0.1' });
    const urlB = `http://127.0.0.1:${(nodeB.server.address() as { port: number }).port}`;
    try {
      await h.storage.db
        .updateTable('accounts')
        .set({ plan: 'enterprise' })
        .where('id', '=', accountId)
        .execute();
      const { id, token } = await enroll('adm-5');
      const onA = await connect(token, 'adm-5');
      await eventually(async () => (await getRunner(id)).online);
      // A second connection on node B supersedes the one on node A.
      const onB = await TestRunnerSocket.connect(urlB, token);
      expect(await onA.waitClosed()).toEqual({ code: 4000, reason: 'superseded' });
      onB.send({ ...(await repoPacksState()), hostname: 'adm-5' });
      await eventually(async () => (await getRunner(id)).online);
      // Disabled through node A: node B sends the shutdown.
      expect((await owner.request('POST', `${base}/runners/${id}/disable`, {})).status).toBe(200);
      await onB.until(() => onB.closed);
      expect(onB.frames.filter((f) => f.type === 'shutdown').map((f) => f.reason)).toEqual([
        'runner_disabled',
      ]);
      await eventually(async () => !(await getRunner(id)).online);
    } finally {
      await nodeB.close();
    }
  });

  it('the real runner: disabled it keeps its token and retries; enabled it returns; deleted it stops for good', async () => {
    await h.storage.db
      .updateTable('accounts')
      .set({ plan: 'enterprise' })
      .where('id', '=', accountId)
      .execute();
    const { key } = await newEnrollmentKey(h, accountId);
    const runner = await startRealRunner({
      url: h.url,
      enrollmentKey: key,
      runnerId: 'real-admin',
      packs: [REPO_PACKS_DIR],
    });
    try {
      const row = async () =>
        h.storage.db
          .selectFrom('runners')
          .select('id')
          .where('account_id', '=', accountId)
          .where('external_id', '=', 'real-admin')
          .executeTakeFirst();
      await eventually(async () => (await row()) !== undefined);
      const { id } = (await row())!;
      await eventually(async () => (await getRunner(id)).online);
      expect((await owner.request('POST', `${base}/runners/${id}/disable`, {})).status).toBe(200);
      await eventually(async () => runner.logs.includes('control plane shutdown: runner_disabled'));
      await eventually(async () =>
        runner.logs.some((l) => l.includes('refused the connection (403)')),
      );
      expect((await owner.request('POST', `${base}/runners/${id}/enable`, {})).status).toBe(200);
      await eventually(async () => (await getRunner(id)).online);
      expect((await owner.request('DELETE', `${base}/runners/${id}`)).status).toBe(200);
      expect(await runner.exit).toEqual({ code: 0, why: 'control plane shutdown: runner_revoked' });
    } finally {
      await runner.stop();
    }
  });
});
