import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverPacks } from '@emisar/packs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyKind } from '../core/principal.js';
import { createApiKey } from '../credentials/api-keys.js';
import { newEnrollmentKey } from '../fleet/test-support/enrollment.js';
import { REPO_PACKS_DIR } from '../fleet/test-support/fixtures.js';
import { type RealRunner, startRealRunner } from '../fleet/test-support/runner.js';
import { signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';

// biome-ignore lint/suspicious/noExplicitAny: tool results are read loosely in assertions
type Json = Record<string, any>;

/** The e2e fixture pack: `e2ekit.guarded_echo` is high risk, so policy asks a person. */
const E2E_PACKS_DIR = fileURLToPath(new URL('../../../../e2e/fixtures/packs', import.meta.url));

async function eventually<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The MCP endpoint with the SDK's own client over real HTTP, against the real
 * app, the real runner daemon and the repo's packs trusted through the catalog.
 */
describe(`MCP over Streamable HTTP (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let runner: RealRunner;
  let catalogDir: string;
  let accountId: string;
  let membershipId: string;
  let owner: Browser;
  let slug: string;
  let mcpKey: string;
  let client: Client;
  const reason = 'checking how loaded the web host is before the deploy';

  const newKey = async (kind: ApiKeyKind, expiresAt?: Date) =>
    (
      await h.db.transaction().execute((trx) =>
        createApiKey(
          trx,
          {
            accountId,
            kind,
            membershipId: kind === 'mcp' ? membershipId : null,
            name: `k-${randomUUID()}`,
            createdBy: null,
            ...(expiresAt ? { expiresAt } : {}),
          },
          h.clock,
        ),
      )
    ).secret;

  const connect = async (key: string, name = 'mcp-test') => {
    const sdk = new Client({ name, version: '1.2.3' });
    await sdk.connect(
      new StreamableHTTPClientTransport(new URL(`${h.url}/api/mcp/rpc`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    return sdk;
  };
  const call = async (name: string, args: Json, as: Client = client) => {
    const result = (await as.callTool({ name, arguments: args })) as Json;
    expect(JSON.parse(result.content[0].text)).toEqual(result.structuredContent);
    return result;
  };

  /** run_action of one action on the one runner, its pack_ref as find_actions names it. */
  const runAction = async (actionId: string, args: Json, more: Json) => {
    const ref = (await call('list_runners', {})).structuredContent.runners[0].runner_ref;
    const { candidates } = (await call('find_actions', { action_id: actionId })).structuredContent;
    return call('run_action', {
      action_id: actionId,
      pack_ref: candidates[0].pack_ref,
      runner_refs: [ref],
      args,
      ...more,
    });
  };

  beforeAll(async () => {
    const { packs } = await discoverPacks([REPO_PACKS_DIR, E2E_PACKS_DIR]);
    catalogDir = await mkdtemp(join(tmpdir(), 'emisar-mcp-catalog-'));
    const catalogFile = join(catalogDir, 'catalog.json');
    await writeFile(
      catalogFile,
      JSON.stringify(packs.map((p) => ({ pack_id: p.id, version: p.version, hash: p.hash }))),
    );
    h = await startTestApp({ config: { catalogFile } });
    ({
      accountId,
      membershipId,
      slug,
      browser: owner,
    } = await signUpOwner(h, 'owner@mcp.test', 'Mcp A'));
    const { key } = await newEnrollmentKey(h, accountId);
    runner = await startRealRunner({
      url: h.url,
      enrollmentKey: key,
      runnerId: 'mcp-host',
      packs: [REPO_PACKS_DIR, E2E_PACKS_DIR],
    });
    await eventually(async () =>
      (await h.db
        .selectFrom('runner_actions')
        .select('runner_id')
        .where('account_id', '=', accountId)
        .where('action_id', '=', 'e2ekit.guarded_echo')
        .executeTakeFirst())
        ? true
        : undefined,
    );
    mcpKey = await newKey('mcp');
    client = await connect(mcpKey);
  });
  afterAll(async () => {
    await client?.close();
    await runner?.stop();
    await h?.close();
    await rm(catalogDir, { recursive: true, force: true });
  });

  it('lists the eight tools with their annotations and instructions', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'list_packs',
      'list_runners',
      'find_actions',
      'get_action',
      'run_action',
      'get_operation',
      'wait_for_run',
      'recent_runs',
    ]);
    const run = tools.find((t) => t.name === 'run_action')!;
    expect(run.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(run.inputSchema).toMatchObject({ additionalProperties: false });
    expect(tools.find((t) => t.name === 'find_actions')!.annotations).toMatchObject({
      readOnlyHint: true,
      idempotentHint: true,
      openWorldHint: false,
    });
    expect(client.getInstructions()).toMatch(/approval/);
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: false } });
  });

  it('find_actions "uptime" → get_action → run_action → success with output, as source mcp', async () => {
    const runners = await call('list_runners', {});
    const ref = runners.structuredContent.runners[0].runner_ref as string;
    expect(runners.structuredContent).toMatchObject({
      ok: true,
      summary: { matched: 1, connected: 1 },
      runners: [{ name: expect.any(String), status: 'connected' }],
    });
    expect(Object.keys(runners.structuredContent.runners[0]).sort()).toEqual([
      'group',
      'hostname',
      'issues',
      'labels',
      'last_seen_at',
      'name',
      'packs',
      'runner_ref',
      'status',
    ]);

    const found = await call('find_actions', { query: 'uptime' });
    const candidate = found.structuredContent.candidates[0];
    expect(candidate).toMatchObject({
      action_id: 'linux.uptime',
      next: { tool: 'get_action', arguments: { action_id: 'linux.uptime' } },
    });

    const action = await call('get_action', candidate.next.arguments);
    expect(action.structuredContent).toMatchObject({
      ok: true,
      action: { action_id: 'linux.uptime', args_schema: { type: 'object' } },
      compatible_runners: [{ runner_ref: ref, status: 'connected' }],
    });

    const ran = await call('run_action', {
      action_id: 'linux.uptime',
      pack_ref: candidate.pack_ref,
      runner_refs: [ref],
      args: {},
      reason,
      wait: '30s',
    });
    expect(ran.isError).toBeFalsy();
    const op = ran.structuredContent;
    expect(op).toMatchObject({
      ok: true,
      operation_id: expect.stringMatching(/^op_[0-9A-HJKMNP-TV-Z]{26}$/),
      runs: [{ status: 'success', exit_code: 0, runner_ref: ref, output_complete: true }],
    });
    expect(op.runs[0].stdout_preview).toMatch(/load average/);
    expect(op.runs[0].operation_id).toBe(op.operation_id);

    const row = await h.db
      .selectFrom('runs')
      .select(['source', 'client_info'])
      .where('id', '=', op.runs[0].run_id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ source: 'mcp', client_info: { name: 'mcp-test', version: '1.2.3' } });
    const requested = await h.db
      .selectFrom('audit_events')
      .select('payload')
      .where('target_id', '=', op.runs[0].run_id)
      .where('event_type', '=', 'run.requested')
      .executeTakeFirstOrThrow();
    expect(requested.payload).toMatchObject({ source: 'mcp', client: { name: 'mcp-test' } });

    // The same call again is the same operation: nothing runs twice.
    const again = await call('run_action', {
      action_id: 'linux.uptime',
      pack_ref: candidate.pack_ref,
      runner_refs: [ref],
      args: {},
      reason,
      wait: '30s',
    });
    expect(again.structuredContent.operation_id).toBe(op.operation_id);
    expect(again.structuredContent.runs[0].run_id).toBe(op.runs[0].run_id);
    const runs = await h.db
      .selectFrom('runs')
      .select('id')
      .where('operation_id', 'like', `${op.operation_id}/%`)
      .execute();
    expect(runs).toHaveLength(1);

    const operation = await call('get_operation', { operation_id: op.operation_id });
    expect(operation.structuredContent).toMatchObject({
      ok: true,
      operation: { operation_id: op.operation_id, runs: [{ run_id: op.runs[0].run_id }] },
      next: null,
    });
    const waited = await call('wait_for_run', { run_id: op.runs[0].run_id, timeout: '1s' });
    expect(waited.structuredContent.run).toMatchObject({ status: 'success' });
    const delta = await call('wait_for_run', {
      run_id: op.runs[0].run_id,
      timeout: '0',
      cursor: waited.structuredContent.cursor,
    });
    expect(delta.structuredContent).toMatchObject({ ok: true, status: 'success', output: [] });
    const recent = await call('recent_runs', {});
    expect(recent.structuredContent.runs.map((r: Json) => r.run_id)).toContain(op.runs[0].run_id);
  }, 60_000);

  it('answers tool-level mistakes with the error envelope', async () => {
    const { structuredContent: packs } = await call('list_packs', {});
    const packRef = (packs.packs as Json[]).find((p) =>
      p.actions.some((a: Json) => a.action_id === 'linux.uptime'),
    )!.pack_ref as string;
    const ref = (await call('list_runners', {})).structuredContent.runners[0].runner_ref;
    const base = {
      action_id: 'linux.uptime',
      pack_ref: packRef,
      runner_refs: [ref],
      args: {},
      reason,
    };

    const unknown = await call('linux.uptime', {});
    expect(unknown.isError).toBe(true);
    expect(unknown.structuredContent).toMatchObject({
      ok: false,
      error: { code: 'unknown_tool', next: { tool: 'find_actions' } },
      dispatch_started: false,
    });

    const invalidArgsEvents = () =>
      h.db
        .selectFrom('audit_events')
        .select(['payload', 'target_id'])
        .where('account_id', '=', accountId)
        .where('event_type', '=', 'mcp.invalid_args')
        .orderBy('seq')
        .execute();
    const auditedBefore = (await invalidArgsEvents()).length;
    const cases: [Json, string, string][] = [
      [{ ...base, force: true }, '$.force', 'unknown'],
      [{ ...base, reason: 'fix' }, '$.reason', 'size'],
      [{ ...base, wait: '5m' }, '$.wait', 'format'],
      [
        { ...base, runner_refs: Array.from({ length: 17 }, (_, i) => `r${i}`) },
        '$.runner_refs',
        'size',
      ],
    ];
    for (const [args, path, kind] of cases) {
      const refused = await call('run_action', args);
      expect(refused.isError, path).toBe(true);
      expect(refused.structuredContent.error, path).toMatchObject({
        code: 'invalid_args',
        details: { stage: 'arguments', issues: [{ path, code: kind }] },
      });
    }

    const audited = (await invalidArgsEvents()).slice(auditedBefore);
    expect(audited).toHaveLength(cases.length);
    expect(audited.map((e) => e.target_id)).toEqual(cases.map(() => 'run_action'));
    expect(audited.map((e) => e.payload)).toEqual(
      cases.map(([, path, code]) => ({ stage: 'arguments', issues: [{ path, code }] })),
    );
    expect(JSON.stringify(audited)).not.toContain('"fix"');

    const stale = await call('run_action', {
      ...base,
      pack_ref: `${packRef.split('/')[0]}/sha256:${'0'.repeat(64)}`,
    });
    expect(stale.structuredContent.error).toMatchObject({
      code: 'target_contract_changed',
      retryable: true,
      next: { tool: 'get_action' },
    });

    // One stale runner in the fan-out: nothing is created on the good one either.
    const before = await h.db.selectFrom('runs').select('id').execute();
    const partly = await call('run_action', {
      ...base,
      runner_refs: [ref, `ghost~${'0'.repeat(32)}`],
      reason: `${reason} on two hosts`,
    });
    expect(partly.structuredContent).toMatchObject({
      ok: false,
      error: { code: 'target_contract_changed' },
      dispatch_started: false,
    });
    expect(await h.db.selectFrom('runs').select('id').execute()).toHaveLength(before.length);

    const nothing = await call('find_actions', { query: 'bake a chocolate cake for the party' });
    expect(nothing.structuredContent).toMatchObject({ ok: true, candidates: [] });

    const page = await call('find_actions', { query: 'linux', limit: 1 });
    const cursor = page.structuredContent.next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const other = await connect(await newKey('mcp'), 'other-client');
    const foreign = await call('find_actions', { query: 'linux', limit: 1, cursor }, other);
    expect(foreign.structuredContent.error).toMatchObject({ code: 'invalid_cursor' });
    await other.close();
  }, 60_000);

  it('a high-risk action comes back pending_approval at once; after a person approves, following next ends in success', async () => {
    const ref = (await call('list_runners', {})).structuredContent.runners[0].runner_ref;
    const { candidates } = (await call('find_actions', { action_id: 'e2ekit.guarded_echo' }))
      .structuredContent;
    const started = Date.now();
    const ran = await call('run_action', {
      action_id: 'e2ekit.guarded_echo',
      pack_ref: candidates[0].pack_ref,
      runner_refs: [ref],
      args: { word: 'approved-once' },
      reason: 'checking that an approved echo reaches the host',
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    const [run] = ran.structuredContent.runs;
    expect(run).toMatchObject({
      status: 'pending_approval',
      approval: {
        request_id: expect.any(String),
        url: `${h.config.baseUrl}/app/${slug}/approvals/${run.approval.request_id}`,
        expires_at: expect.any(String),
      },
      next: { tool: 'wait_for_run', arguments: { run_id: run.run_id } },
    });

    // Nine waits at once from one credential: the ninth is refused, retryably.
    const waits = await Promise.all(
      Array.from({ length: 9 }, () => call('wait_for_run', { run_id: run.run_id, timeout: '2s' })),
    );
    const saturated = waits.filter((w) => w.structuredContent.ok === false);
    expect(saturated.map((w) => w.structuredContent.error)).toEqual([
      expect.objectContaining({ code: 'wait_saturated', retryable: true }),
    ]);

    const decided = await owner.request(
      'POST',
      `/api/v1/accounts/${slug}/approvals/${run.approval.request_id}/decisions`,
      { decision: 'approve', note: 'fine' },
    );
    expect(decided.status).toBeLessThan(300);
    let next = run.next;
    let last: Json = run;
    for (let hops = 0; next && hops < 20; hops++) {
      const waited = await call(next.tool, next.arguments);
      last = waited.structuredContent.run;
      next = waited.structuredContent.next;
    }
    expect(last).toMatchObject({ status: 'success', stdout_preview: 'approved-once\n' });
  }, 60_000);

  it('a runner that describes an action unlike the trusted pack cannot run it: descriptor_mismatch, target_contract_changed', async () => {
    const { candidates } = (await call('find_actions', { action_id: 'e2ekit.count' }))
      .structuredContent;
    const tamper = (digest: string) =>
      h.db
        .updateTable('runner_actions')
        .set({ contract_digest: digest })
        .where('account_id', '=', accountId)
        .where('action_id', '=', 'e2ekit.count')
        .returning('contract_digest')
        .execute();
    const [original] = await h.db
      .selectFrom('runner_actions')
      .select('contract_digest')
      .where('account_id', '=', accountId)
      .where('action_id', '=', 'e2ekit.count')
      .execute();
    await tamper('0'.repeat(64));
    try {
      const packs = (await call('list_packs', { availability: 'all' })).structuredContent.packs;
      const e2ekit = (packs as Json[]).find((p) => p.pack_ref === candidates[0].pack_ref)!;
      expect(e2ekit.issues.map((i: Json) => i.code)).toContain('descriptor_mismatch');
      expect(e2ekit.actions).toContainEqual(
        expect.objectContaining({ action_id: 'e2ekit.count', availability: 'unavailable' }),
      );
      const refused = await runAction(
        'e2ekit.count',
        { lines: 1 },
        { reason: 'checking a runner that drifted from the trusted pack' },
      );
      expect(refused.structuredContent.error).toMatchObject({ code: 'target_contract_changed' });
    } finally {
      await tamper(original!.contract_digest);
    }
  }, 60_000);

  it('marks a break-glass action as such in find_actions and get_action', async () => {
    const manifestOf = () =>
      h.db
        .selectFrom('pack_versions')
        .select(['id', 'trusted_manifest'])
        .where('account_id', '=', accountId)
        .where('pack_id', '=', 'e2ekit')
        .executeTakeFirstOrThrow();
    const { id, trusted_manifest: manifest } = await manifestOf();
    const setManifest = (value: unknown) =>
      h.db
        .updateTable('pack_versions')
        .set({ trusted_manifest: JSON.stringify(value) })
        .where('id', '=', id)
        .execute();
    await setManifest({
      ...manifest,
      'e2ekit.count': { ...manifest!['e2ekit.count'], break_glass: true },
    });
    try {
      const found = await call('find_actions', { action_id: 'e2ekit.count' });
      const [candidate] = found.structuredContent.candidates;
      expect(candidate).toMatchObject({ action_id: 'e2ekit.count', break_glass: true });
      const action = await call('get_action', candidate.next.arguments);
      expect(action.structuredContent.action).toMatchObject({ break_glass: true });
      const echo = await call('find_actions', { action_id: 'e2ekit.guarded_echo' });
      expect(echo.structuredContent.candidates[0]).not.toHaveProperty('break_glass');
    } finally {
      await setManifest(manifest);
    }
  }, 60_000);

  it('passes typed arguments through exactly: e2ekit.count prints its lines', async () => {
    const reason = 'checking that numbered output arrives in order';
    const ran = await runAction(
      'e2ekit.count',
      { lines: 2, interval_ms: 0 },
      { reason, wait: '30s' },
    );
    const [run] = ran.structuredContent.runs;
    expect(run).toMatchObject({ status: 'success', stdout_preview: 'line-1\nline-2\ndone\n' });
    const row = await h.db
      .selectFrom('runs')
      .select('args_redacted')
      .where('id', '=', run.run_id)
      .executeTakeFirstOrThrow();
    expect(row.args_redacted).toBe('{"lines":2,"interval_ms":0}');
    const badArg = await runAction('e2ekit.count', { lines: 0 }, { reason });
    expect(badArg.structuredContent.error).toMatchObject({
      code: 'invalid_args',
      details: { stage: 'action_arguments', issues: [{ path: '$.args.lines' }] },
    });
  }, 60_000);

  it('Emisar-Operation-Id names the operation: a retry is the same run, other arguments are operation_conflict', async () => {
    const operationId = `op_${'7'.repeat(26)}`;
    // A key of its own: the client name initialize announces is remembered per key lineage.
    const bridgeKey = await newKey('mcp');
    const withHeader = new Client({ name: 'bridge', version: '1' });
    await withHeader.connect(
      new StreamableHTTPClientTransport(new URL(`${h.url}/api/mcp/rpc`), {
        requestInit: {
          headers: { authorization: `Bearer ${bridgeKey}`, 'emisar-operation-id': operationId },
        },
      }),
    );
    const ref = (await call('list_runners', {})).structuredContent.runners[0].runner_ref;
    const { candidates } = (await call('find_actions', { action_id: 'linux.uptime' }))
      .structuredContent;
    const args = {
      action_id: 'linux.uptime',
      pack_ref: candidates[0].pack_ref,
      runner_refs: [ref],
      args: {},
      reason,
      wait: '0',
    };
    const first = await call('run_action', args, withHeader);
    expect(first.structuredContent.operation_id).toBe(operationId);
    const retry = await call('run_action', args, withHeader);
    expect(retry.structuredContent.runs[0].run_id).toBe(first.structuredContent.runs[0].run_id);
    const other = await call('run_action', { ...args, reason: `${reason}, again` }, withHeader);
    expect(other.structuredContent.error).toMatchObject({ code: 'operation_conflict' });
    await withHeader.close();
  }, 60_000);

  describe('request checks before authentication', () => {
    // A key of its own: these requests announce another client name.
    let rawKey: string;
    beforeAll(async () => {
      rawKey = await newKey('mcp');
    });
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'raw', version: '1' },
      },
    };
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${h.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${rawKey}`,
          ...headers,
        },
        body,
      });
    const rpcCode = async (response: Response) =>
      ((await response.json()) as { error: { code: number } }).error.code;

    it('serves a JSON-only client at /mcp, and refuses GET with 405', async () => {
      const response = await post(JSON.stringify(initialize));
      expect(response.status).toBe(200);
      expect(((await response.json()) as Json).result.serverInfo.name).toBe('emisar');
      const get = await fetch(`${h.url}/api/mcp/rpc`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('refuses duplicate keys at any depth with -32700', async () => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"a":1,"a":2}}';
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(await rpcCode(response)).toBe(-32700);
    });

    it('refuses a 129 KiB body', async () => {
      const body = JSON.stringify({ ...initialize, pad: 'x'.repeat(129 * 1024) });
      expect((await post(body)).status).toBe(413);
    });

    it('refuses a wrong Content-Type, an Accept without JSON and a cross-origin Origin', async () => {
      const body = JSON.stringify(initialize);
      expect((await post(body, { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await post(body, { accept: 'text/event-stream' })).status).toBe(406);
      expect((await post(body, { origin: 'https://evil.example' })).status).toBe(403);
      expect((await post(body, { origin: new URL(h.config.baseUrl).origin })).status).toBe(200);
    });

    it('challenges a missing or bad bearer and refuses an audit_export key with -32002', async () => {
      const body = JSON.stringify(initialize);
      for (const authorization of ['', 'Bearer emk-nope', `Bearer ${rawKey}x`]) {
        const response = await post(body, { authorization });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe(
          `Bearer resource_metadata="${new URL(h.config.baseUrl).origin}/.well-known/oauth-protected-resource", scope="mcp"`,
        );
        expect(await rpcCode(response)).toBe(-32001);
      }
      const expired = await newKey('mcp', new Date(h.clock.now().getTime() - 1000));
      expect((await post(body, { authorization: `Bearer ${expired}` })).status).toBe(401);
      const audit = await post(body, { authorization: `Bearer ${await newKey('audit_export')}` });
      expect(audit.status).toBe(403);
      expect(await rpcCode(audit)).toBe(-32002);
    });

    it('allows 300 requests a minute per bearer, then 429 with Retry-After', async () => {
      const key = await newKey('mcp');
      const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      for (let batch = 0; batch < 10; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 30 }, () => post(list, { authorization: `Bearer ${key}` })),
        );
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      }
      const over = await post(list, { authorization: `Bearer ${key}` });
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another key has its own budget.
      expect((await post(list)).status).toBe(200);
    }, 60_000);
  });
});
