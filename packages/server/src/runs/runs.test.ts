import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { RunnerStateFrame } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedRunner } from '../approvals/test-support/fixtures.js';
import { publishedCatalog } from '../catalog/published.js';
import type { RunnerAccess } from '../core/roles.js';
import { createApiKey } from '../credentials/api-keys.js';
import { fleetQueries } from '../fleet/queries.js';
import type { RunHooks } from '../fleet/run-hooks.js';
import { ingestRunnerState } from '../fleet/runner-state.js';
import { insertRunner, repoPacksState, withPackHash } from '../fleet/test-support/fixtures.js';
import { insertMember, setRunnerAccess } from '../test-support/accounts.js';
import { signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { createRunHooks } from './runner-hooks.js';
import { RecordingConnection, resultFrame } from './test-support/fixtures.js';

type Json = Record<string, unknown>;

describe(`runs over the REST API (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let accountId: string;
  let runner: { id: string; name: string; group: string };
  /** The runs side of the gateway, driven by hand (a recording connection stands in for the socket). */
  let hooks: RunHooks;
  const slug = 'runs-a';
  const base = `/api/v1/accounts/${slug}`;
  const reason = 'checking why the web tier is slow';

  beforeAll(async () => {
    h = await startTestApp();
    ({ browser: owner, accountId } = await signUpOwner(h, 'owner@runs.test', 'Runs A'));
    runner = await trustedRunner(h.db, h, accountId, 'web');
    hooks = createRunHooks({
      fleet: fleetQueries,
      db: h.db,
      bus: h.bus,
      clock: h.clock,
      secretKey: h.config.secretKey,
      sentDeadlineMs: 1_000,
    });
  });
  afterAll(() => h.close());

  /** POST …/runs with the exact body text. */
  const post = async (
    body: string | Json,
    headers: Record<string, string> = {},
    as: { bearer?: string } = {},
  ) => {
    const response = await fetch(`${h.url}${base}/runs`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(as.bearer
          ? { authorization: `Bearer ${as.bearer}` }
          : { origin: h.config.baseUrl, cookie: cookieOf(owner) }),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const uptime = (over: Json = {}) => ({
    runner: runner.id,
    action_id: 'linux.uptime',
    args: {},
    reason,
    ...over,
  });
  const runRow = (id: string) =>
    h.storage.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const auditOf = async (targetId: string) =>
    (
      await h.storage.db
        .selectFrom('audit_events')
        .select(['event_type', 'actor_kind'])
        .where('target_id', '=', targetId)
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);
  const runCount = async () =>
    Number(
      (
        await h.storage.db
          .selectFrom('runs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const setReach = (membershipId: string, access: RunnerAccess) =>
    setRunnerAccess(h.db, membershipId, access);
  const mcpKey = async (membershipId: string) =>
    (
      await h.storage.db
        .transaction()
        .execute((trx) =>
          createApiKey(
            trx,
            { accountId, kind: 'mcp', membershipId, name: `k-${randomUUID()}`, createdBy: null },
            h.clock,
          ),
        )
    ).secret;

  it('creates a pending run for a trusted low-risk action, with its policy snapshot and audit event', async () => {
    const created = await post(uptime());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'pending',
      action_id: 'linux.uptime',
      runner_id: runner.id,
      source: 'operator',
      reason,
      args: {},
      policy: { decision: 'allow' },
    });
    expect(created.body.request_id).toMatch(/^req_[A-Za-z0-9]{22}$/);
    expect(String(created.body.pack_ref)).toMatch(/^linux@[^/]+\/sha256:[0-9a-f]{64}$/);
    const id = String(created.body.id);
    expect(await auditOf(id)).toEqual(['run.requested']);
    const row = await runRow(id);
    expect(row.args_ciphertext).not.toBeNull();
    expect(row.action_timeout_ms).toBeGreaterThan(0);

    const read = await owner.request<Json>('GET', `${base}/runs/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
    const listed = await owner.request<{ runs: Json[] }>('GET', `${base}/runs?status=pending`);
    expect(listed.body.runs.map((r) => r.id)).toContain(id);
  });

  it('takes the runner by its unique name as well as by its id or ref', async () => {
    const byName = await post(uptime({ runner: runner.name }));
    expect(byName.status).toBe(201);
    expect(byName.body).toMatchObject({ runner_id: runner.id });
    const unknown = await post(uptime({ runner: `${runner.name}-elsewhere` }));
    expect(unknown.status).toBe(404);
    const listed = await owner.request<{ runs: Json[] }>(
      'GET',
      `${base}/runs?runner=${encodeURIComponent(runner.name)}`,
    );
    expect(listed.body.runs.map((r) => r.id)).toContain(byName.body.id);
    expect(listed.body.runs.every((r) => r.runner_id === runner.id)).toBe(true);
    const none = await owner.request<{ runs: Json[] }>('GET', `${base}/runs?runner=nobody-here`);
    expect(none.body.runs).toEqual([]);
  });

  it('sends the runner exactly the request’s args (compact), and seals that text', async () => {
    const body = `{"runner":"${runner.id}","action_id":"linux.tail_log","reason":"${reason}",
      "args":{"lines": 20, "file": "/var/log/syslog"}}`;
    const created = await post(body);
    expect(created.status).toBe(201);
    const connection = new RecordingConnection(accountId, runner.id, 1);
    await hooks.deliverPending(connection);
    const frame = connection.sent.find(
      (f) => 'request_id' in f && f.request_id === created.body.request_id,
    );
    expect(frame).toMatchObject({
      type: 'run_action',
      args: { lines: 20, file: '/var/log/syslog' },
    });
    expect((await runRow(String(created.body.id))).args_bytes).toBe(
      Buffer.byteLength('{"lines":20,"file":"/var/log/syslog"}'),
    );
    // Every run this test delivered finishes, so later tests start from an idle runner.
    for (const sent of connection.sent) {
      if (sent.type === 'run_action')
        await hooks.actionResult(connection, resultFrame(sent.request_id));
    }
  });

  it('honours Idempotency-Key: same facts → same run, other facts → operation_conflict; none → a new run', async () => {
    const key = `idem-${randomUUID()}`;
    const first = await post(uptime(), { 'idempotency-key': key });
    const again = await post(uptime(), { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const other = await post(uptime({ reason: `${reason} (again)` }), { 'idempotency-key': key });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: { id: 'operation_conflict' } });

    const a = await post(uptime());
    const b = await post(uptime());
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('refuses before policy, creating nothing: reason, runner, disabled runner, arguments', async () => {
    const before = await runCount();
    const short = await post(uptime({ reason: 'too short' }));
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ error: { id: 'invalid_reason' } });
    const blank = await post(uptime({ reason: ' '.repeat(20) }));
    expect(blank.status).toBe(400);
    const zeroWidth = await post(uptime({ reason: '\u200b'.repeat(12) }));
    expect(zeroWidth.status).toBe(400);
    expect(zeroWidth.body).toMatchObject({ error: { id: 'invalid_reason' } });
    expect(String((zeroWidth.body.error as Json).message)).toContain('12 visible characters');
    const override = await post(uptime({ reason: `${reason} \u202eevil` }));
    expect(override.status).toBe(400);
    expect(String((override.body.error as Json).message)).toContain('U+202E');
    const isolated = await post(uptime({ evidence: 'load \u2067is fine\u2069' }));
    expect(isolated.status).toBe(400);
    expect(String((isolated.body.error as Json).message)).toMatch(/^evidence .*U\+2067/);

    const unknown = await post(uptime({ runner: randomUUID() }));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { id: 'runner_not_found' } });

    const badArgs = await post(
      uptime({ action_id: 'linux.tail_log', args: { file: '/etc/shadow', lines: 99999 } }),
    );
    expect(badArgs.status).toBe(400);
    expect(badArgs.body).toMatchObject({ error: { id: 'invalid_args' } });
    const message = String((badArgs.body.error as Json).message);
    expect(message).toContain('file');
    expect(message).toContain('lines');
    const duplicate = await post(
      `{"runner":"${runner.id}","action_id":"linux.uptime","args":{},"reason":"${reason}","reason":"x"}`,
    );
    expect(duplicate.status).toBe(400);
    expect(await post(uptime({ action_id: 'linux.nothing' }))).toMatchObject({
      status: 404,
      body: { error: { id: 'unknown_action' } },
    });

    const huge = await post(uptime({ evidence: 'x'.repeat(1024 * 1024 + 1) }));
    expect(huge).toMatchObject({ status: 413, body: { error: { id: 'payload_too_large' } } });

    const disabled = await trustedRunner(h.db, h, accountId, 'web');
    await h.storage.db
      .updateTable('runners')
      .set({ disabled_at: h.clock.now().toISOString() })
      .where('id', '=', disabled.id)
      .execute();
    const toDisabled = await post(uptime({ runner: disabled.id }));
    expect(toDisabled.status).toBe(409);
    expect(toDisabled.body).toMatchObject({ error: { id: 'runner_disabled' } });
    expect(await runCount()).toBe(before);
  });

  /** Ingests a runner_state for a runner, with `published`'s packs in the published catalog. */
  const ingestAs = (runnerId: string, state: RunnerStateFrame, published = state) =>
    ingestRunnerState(
      h.storage.db,
      {
        catalog: publishedCatalog(
          Object.entries(published.packs).map(([pack_id, p]) => ({ pack_id, ...p })),
        ),
        clock: h.clock,
        bus: h.bus,
      },
      { accountId, runnerId, generation: 1 },
      state,
    );

  it('refuses a drifted runner with pack_untrusted and audits it; the trusted runner still works', async () => {
    const state = await repoPacksState();
    const drifted = await insertRunner(h.storage.db, accountId, { group: 'web' });
    await ingestAs(drifted.id, withPackHash(state, 'linux', `sha256:${'e'.repeat(64)}`), state);
    const refused = await post(uptime({ runner: drifted.ref }));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { id: 'pack_untrusted' } });
    expect(await auditOf(drifted.id)).toContain('dispatch_blocked.pack_untrusted');
    expect((await post(uptime())).status).toBe(201);
  });

  it('answers action_not_admitted, naming the rule, for an action the runner refuses locally', async () => {
    const full = await repoPacksState();
    const why =
      'not admitted: risk critical is above admission.max_risk (unset, so high; set it to critical to admit critical actions)';
    const held = await insertRunner(h.storage.db, accountId, { group: 'web' });
    await ingestAs(held.id, {
      ...full,
      actions: full.actions.filter((a) => a.id !== 'linux.reboot'),
      refused_actions: [{ id: 'linux.reboot', pack_id: 'linux', reason: why }],
    });
    const refused = await post(uptime({ runner: held.ref, action_id: 'linux.reboot' }));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: { id: 'action_not_admitted', message: expect.stringContaining(why) },
    });
    // An action it never loaded is still unknown.
    const unknown = await post(uptime({ runner: held.ref, action_id: 'linux.nothing' }));
    expect(unknown.body).toMatchObject({ error: { id: 'unknown_action' } });
    const shown = await owner.request<Json>('GET', `${base}/runners/${held.id}`);
    expect((shown.body.runner as Json).refused_actions).toEqual([
      { id: 'linux.reboot', pack_id: 'linux', reason: why },
    ]);

    // A host that opted in advertises a break-glass action; the runner view marks it.
    const glass = await insertRunner(h.storage.db, accountId, { group: 'web' });
    await ingestAs(glass.id, {
      ...full,
      actions: full.actions.map((a) =>
        a.id === 'linux.reboot' ? { ...a, break_glass: true as const } : a,
      ),
    });
    const glassView = await owner.request<{ runner: { actions: Json[] } }>(
      'GET',
      `${base}/runners/${glass.id}`,
    );
    const flags = glassView.body.runner.actions.filter((a) => a.break_glass).map((a) => a.id);
    expect(flags).toEqual(['linux.reboot']);
  });

  it('refuses a changed contract, a missing executable, a retired version and a pack out of reach', async () => {
    const before = await runCount();
    const changed = await trustedRunner(h.db, h, accountId, 'web');
    const row = await h.storage.db
      .selectFrom('runner_actions')
      .select('descriptor')
      .where('runner_id', '=', changed.id)
      .where('action_id', '=', 'linux.uptime')
      .executeTakeFirstOrThrow();
    await h.storage.db
      .updateTable('runner_actions')
      .set({
        descriptor: JSON.stringify({
          ...row.descriptor,
          execution: { ...row.descriptor.execution, binary: '/tmp/uptime' },
        }),
      })
      .where('runner_id', '=', changed.id)
      .where('action_id', '=', 'linux.uptime')
      .execute();
    expect(await post(uptime({ runner: changed.id }))).toMatchObject({
      status: 409,
      body: { error: { id: 'action_contract_changed' } },
    });
    expect(await auditOf(changed.id)).toContain('dispatch_blocked.action_contract_changed');

    const missing = await trustedRunner(h.db, h, accountId, 'web');
    await h.storage.db
      .updateTable('runner_actions')
      .set({ primary_executable_available: false })
      .where('runner_id', '=', missing.id)
      .execute();
    expect(await post(uptime({ runner: missing.id }))).toMatchObject({
      status: 409,
      body: { error: { id: 'executable_unavailable' } },
    });

    const member = await insertMember(h.storage.db, accountId, 'operator');
    await setReach(member.membershipId, { mode: 'all' });
    await h.storage.db
      .updateTable('memberships')
      .set({ pack_access: JSON.stringify({ mode: 'restricted', pack_ids: ['diagnostics'] }) })
      .where('id', '=', member.membershipId)
      .execute();
    expect(await post(uptime(), {}, { bearer: await mcpKey(member.membershipId) })).toMatchObject({
      status: 404,
      body: { error: { id: 'unknown_action' } },
    });

    const retire = (retired: boolean) =>
      h.storage.db
        .updateTable('pack_versions')
        .set({ retired })
        .where('account_id', '=', accountId)
        .where('pack_id', '=', 'linux')
        .execute();
    await retire(true);
    try {
      expect(await post(uptime())).toMatchObject({
        status: 409,
        body: { error: { id: 'pack_retired' } },
      });
    } finally {
      await retire(false);
    }
    expect(await runCount()).toBe(before);
  });

  it('an API key acts within its member’s runner reach: out of reach is 404', async () => {
    const member = await insertMember(h.storage.db, accountId, 'operator');
    await setReach(member.membershipId, { mode: 'restricted', groups: ['db'], runner_ids: [] });
    const key = await mcpKey(member.membershipId);
    const outOfReach = await post(uptime(), {}, { bearer: key });
    expect(outOfReach.status).toBe(404);
    expect(outOfReach.body).toMatchObject({ error: { id: 'runner_not_found' } });

    await setReach(member.membershipId, { mode: 'restricted', groups: ['web'], runner_ids: [] });
    const inReach = await post(uptime(), {}, { bearer: key });
    expect(inReach.status).toBe(201);
    expect(inReach.body).toMatchObject({ source: 'mcp', status: 'pending' });
  });

  it('stores a denied run when the agent stop switch is on (API key), and parks high risk for approval', async () => {
    const member = await insertMember(h.storage.db, accountId, 'operator');
    await setReach(member.membershipId, { mode: 'all' });
    const key = await mcpKey(member.membershipId);
    await h.storage.db
      .updateTable('accounts')
      .set({ agents_stopped_at: h.clock.now().toISOString() })
      .where('id', '=', accountId)
      .execute();
    const denied = await post(uptime(), {}, { bearer: key });
    await h.storage.db
      .updateTable('accounts')
      .set({ agents_stopped_at: null })
      .where('id', '=', accountId)
      .execute();
    expect(denied.status).toBe(201);
    expect(denied.body).toMatchObject({ status: 'denied', status_reason: 'agents_stopped' });
    expect(await auditOf(String(denied.body.id))).toEqual(['run.requested', 'run.denied']);
    expect((await runRow(String(denied.body.id))).args_ciphertext).toBeNull();

    const parked = await post(
      uptime({ action_id: 'linux.systemctl_restart', args: { unit: 'nginx.service' } }),
    );
    expect(parked.status).toBe(201);
    expect(parked.body).toMatchObject({ status: 'pending_approval' });
    const approval = await h.storage.db
      .selectFrom('approval_requests')
      .select(['status', 'args_sha256'])
      .where('run_id', '=', String(parked.body.id))
      .executeTakeFirstOrThrow();
    expect(approval).toEqual({ status: 'pending', args_sha256: parked.body.args_sha256 });

    // Cancelling a parked run ends it and its approval request.
    const cancelled = await owner.request<Json>('POST', `${base}/runs/${parked.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    const after = await h.storage.db
      .selectFrom('approval_requests')
      .select('status')
      .where('run_id', '=', String(parked.body.id))
      .executeTakeFirstOrThrow();
    expect(after.status).toBe('cancelled');
    const twice = await owner.request<Json>('POST', `${base}/runs/${parked.body.id}/cancel`);
    expect(twice.status).toBe(409);
  });

  it('cancels a running run through the runner, waits for the result with ?wait, and serves its output', async () => {
    const lone = await trustedRunner(h.db, h, accountId, 'web');
    const created = await post(uptime({ runner: lone.id }));
    const id = String(created.body.id);
    const requestId = String(created.body.request_id);
    const connection = new RecordingConnection(accountId, lone.id, 1);
    await hooks.deliverPending(connection);
    expect(connection.take()).toMatchObject([{ type: 'run_action', request_id: requestId }]);
    await hooks.actionStarted(connection, { type: 'action_started', request_id: requestId });
    await hooks.actionProgress(connection, {
      type: 'action_progress',
      request_id: requestId,
      seq: 1,
      stream: 'stdout',
      data: ' 10:00:00 up 3 days\n',
    });

    const cancelling = await owner.request<Json>('POST', `${base}/runs/${id}/cancel`);
    expect(cancelling.body).toMatchObject({ status: 'cancelling' });
    await hooks.deliverPending(connection);
    expect(connection.take()).toEqual([{ type: 'cancel', request_id: requestId }]);

    const waiting = owner.request<Json>('GET', `${base}/runs/${id}?wait=10s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await hooks.actionResult(
      connection,
      resultFrame(requestId, { status: 'cancelled', exit_code: null, progress_chunks: 1 }),
    );
    const waited = await waiting;
    expect(waited.body).toMatchObject({ status: 'cancelled', output: { complete: true } });

    const output = await owner.request<Json>('GET', `${base}/runs/${id}/output?after_seq=0`);
    expect(output.body).toMatchObject({
      chunks: [{ stream: 'stdout', data: ' 10:00:00 up 3 days\n' }],
      done: true,
    });
    const next = (output.body as { next_after_seq: number }).next_after_seq;
    const rest = await owner.request<Json>('GET', `${base}/runs/${id}/output?after_seq=${next}`);
    expect(rest.body).toMatchObject({ chunks: [] });
    expect(await auditOf(id)).toEqual([
      'run.requested',
      'run.sent',
      'run.running',
      'run.cancelling',
      'run.cancelled',
    ]);
  });

  it('cancels a pending run at once; the event stream leaves out runs beyond the caller’s reach', async () => {
    const member = await insertMember(h.storage.db, accountId, 'viewer');
    await setReach(member.membershipId, { mode: 'restricted', groups: ['db'], runner_ids: [] });
    const key = await mcpKey(member.membershipId);
    const received: string[] = [];
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(
        `${h.url}${base}/events`,
        { headers: { authorization: `Bearer ${key}` } },
        resolve,
      ).on('error', reject);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => received.push(chunk));

    const dbRunner = await trustedRunner(h.db, h, accountId, 'db');
    const hidden = await post(uptime());
    const visible = await post(uptime({ runner: dbRunner.id }));
    const cancelled = await owner.request<Json>('POST', `${base}/runs/${visible.body.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', status_reason: null });
    expect(await auditOf(String(visible.body.id))).toEqual(['run.requested', 'run.cancelled']);
    for (let i = 0; i < 200 && received.join('').split(String(visible.body.id)).length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stream.destroy();
    const text = received.join('');
    expect(text.split(`data: {"id":"${visible.body.id}"}`).length).toBe(3);
    expect(text).not.toContain(String(hidden.body.id));
  });

  it('streams the account’s run events over SSE', async () => {
    const received: string[] = [];
    let wake = () => {};
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpGet(
        `${h.url}${base}/events`,
        { headers: { cookie: cookieOf(owner) } },
        resolve,
      );
      request.on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/event-stream');
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      received.push(chunk);
      wake();
    });
    const created = await post(uptime());
    const id = String(created.body.id);
    while (!received.join('').includes(`"id":"${id}"`)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    response.destroy();
    const text = received.join('');
    expect(text).toContain('event: run\nid: ');
    expect(text).toContain(`data: {"id":"${id}"}`);
  });
});

function cookieOf(browser: Browser): string {
  return [...browser.jar.entries()].map(([name, c]) => `${name}=${c.value}`).join('; ');
}
