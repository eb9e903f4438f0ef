import { CLOSE_SUPERSEDED } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccountEvent, subscribeAccountEvents } from '../bus/account-events.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { TEST_TIMING } from '../test-support/config.js';
import { onPostgres } from '../test-support/database.js';
import { CLOSE_HEARTBEAT_TIMEOUT } from './live-connection.js';
import { notifyAccountRunnersShutdown } from './runner-control.js';
import { notifyRunnerWork } from './runner-work.js';
import { accountWithKey, register, registration } from './test-support/enrollment.js';
import { repoPacksState } from './test-support/fixtures.js';
import { RecordingRunHooks } from './test-support/run-hooks.js';
import { TestRunnerSocket } from './test-support/ws-client.js';

async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe(`runner gateway (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  const hooks = new RecordingRunHooks();
  beforeAll(async () => {
    h = await startTestApp({ runHooks: hooks });
  });
  afterAll(() => h.close());

  async function enrolled(hostname: string, options: { group?: string } = {}) {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    const response = await register(h.url, key, registration(hostname, options));
    expect(response.status).toBe(201);
    const runner = await h.storage.db
      .selectFrom('runners')
      .select(['id'])
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    return { accountId, runnerId: runner.id, token: response.body.token as string };
  }

  const runnerRow = (id: string) =>
    h.storage.db.selectFrom('runners').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const callsOf = (hook: string, runnerId?: string) =>
    hooks.calls.filter(
      (c) =>
        c.hook === hook &&
        (runnerId === undefined || !('runnerId' in c) || c.runnerId === runnerId),
    );

  it('refuses the upgrade with 401 or 403 in the flat shape', async () => {
    expect(await TestRunnerSocket.open(h.url, null)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });
    expect(await TestRunnerSocket.open(h.url, `rnrtok-${'a'.repeat(43)}`)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });
    const { accountId, runnerId, token } = await enrolled('refused-1');
    const now = h.clock.now().toISOString();
    await h.storage.db
      .updateTable('runners')
      .set({ disabled_at: now })
      .where('id', '=', runnerId)
      .execute();
    expect(await TestRunnerSocket.open(h.url, token)).toEqual({
      status: 403,
      body: { error: 'runner_disabled' },
    });
    await h.storage.db
      .updateTable('accounts')
      .set({ disabled_at: now })
      .where('id', '=', accountId)
      .execute();
    expect(await TestRunnerSocket.open(h.url, token)).toEqual({
      status: 403,
      body: { error: 'account_disabled' },
    });
  });

  it('takes the lease, ingests runner_state, delivers, renews on heartbeat and releases on close', async () => {
    const { runnerId, token } = await enrolled('live-1');
    const socket = await TestRunnerSocket.connect(h.url, token);
    socket.send({ ...(await repoPacksState()), hostname: 'live-1' });
    const delivered = await hooks.until(() => callsOf('deliverPending', runnerId)[0]);
    expect(delivered).toMatchObject({ generation: 1 });
    const online = await runnerRow(runnerId);
    expect(online).toMatchObject({ connection_generation: 1, lease_node: expect.any(String) });
    expect(new Date(online.lease_expires_at!).getTime()).toBe(h.clock.now().getTime() + 4_000);
    expect(online.state_received_at).not.toBeNull();
    const actions = await h.storage.db
      .selectFrom('runner_actions')
      .select('action_id')
      .where('runner_id', '=', runnerId)
      .execute();
    expect(actions.map((a) => a.action_id)).toContain('linux.uptime');

    await notifyRunnerWork(h.bus, h.db, runnerId);
    await hooks.until(() => callsOf('deliverPending', runnerId).length >= 2);

    h.clock.advance(1_000);
    socket.send({ type: 'heartbeat' });
    await eventually(async () => {
      const row = await runnerRow(runnerId);
      return new Date(row.lease_expires_at!).getTime() === h.clock.now().getTime() + 4_000;
    });

    socket.close();
    await hooks.until(() => callsOf('connectionClosed', runnerId)[0]);
    const offline = await runnerRow(runnerId);
    expect(offline).toMatchObject({
      lease_expires_at: null,
      lease_node: null,
      last_disconnect_reason: 'runner_closed',
    });
  });

  it('acks results, answers finalize_failed, passes progress and errors on, rejects bad frames', async () => {
    const { runnerId, token } = await enrolled('frames-1');
    const socket = await TestRunnerSocket.connect(h.url, token);
    socket.send({ ...(await repoPacksState()), hostname: 'frames-1' });
    await hooks.until(() => callsOf('deliverPending', runnerId)[0]);
    const result = {
      type: 'action_result',
      request_id: 'req_one',
      status: 'success',
      exit_code: 0,
      duration_ms: 5,
      stdout_sha256: 'a'.repeat(64),
      stdout_bytes: 1,
      stderr_sha256: 'b'.repeat(64),
      stderr_bytes: 0,
      stdout_truncated: false,
      stderr_truncated: false,
      progress_chunks: 1,
      dropped_progress_chunks: 0,
      redactions: [],
      executed_command: 'uptime',
      executed_command_truncated: false,
    };
    socket.send({ type: 'action_started', request_id: 'req_one' });
    socket.send({
      type: 'action_progress',
      request_id: 'req_one',
      seq: 1,
      stream: 'stdout',
      data: 'x\n',
    });
    socket.send(result);
    expect(await socket.waitFrame('ack_result')).toEqual({
      type: 'ack_result',
      protocol_version: 1,
      request_id: 'req_one',
    });
    expect(
      hooks.calls
        .filter((c) => 'frame' in c && c.frame.request_id === 'req_one')
        .map((c) => c.hook),
    ).toEqual(['actionStarted', 'actionProgress', 'actionResult']);
    hooks.resultOutcome = 'finalize_failed';
    socket.send({ ...result, request_id: 'req_two' });
    expect(await socket.waitFrame('error')).toEqual({
      type: 'error',
      protocol_version: 1,
      code: 'finalize_failed',
      request_id: 'req_two',
      message: 'server could not store the result',
    });
    hooks.resultOutcome = 'ack';
    socket.send({
      type: 'error',
      code: 'concurrency_cap_reached',
      request_id: 'req_three',
      message: 'busy',
    });
    await hooks.until(() => callsOf('runnerError')[0]);

    socket.frames.length = 0;
    socket.send('{"type":"heartbeat","protocol_version":1,"type":"x"}');
    socket.ws.send(Buffer.from([1, 2, 3]));
    socket.send({ type: 'ack_result', request_id: 'req_x' }); // a server frame from the runner
    socket.send({ type: 'something_new', extra: true }); // unknown types are ignored
    await socket.until(() => socket.frames.length >= 3);
    expect(socket.frames).toEqual(
      [0, 1, 2].map(() => ({
        type: 'error',
        protocol_version: 1,
        code: 'invalid_frame',
        message: 'frame rejected',
      })),
    );
    socket.ws.send(JSON.stringify({ type: 'heartbeat', protocol_version: 2 }));
    expect(await socket.waitClosed()).toEqual({ code: 1002, reason: 'protocol_version' });
  });

  it('records a foreign group assertion as an issue and keeps the enrolled group', async () => {
    const { runnerId, token } = await enrolled('grp-1', { group: 'web' });
    const socket = await TestRunnerSocket.connect(h.url, token);
    socket.send({ ...(await repoPacksState()), hostname: 'grp-1', group: 'db' });
    await hooks.until(() => callsOf('deliverPending', runnerId)[0]);
    expect(await runnerRow(runnerId)).toMatchObject({ group_name: 'web', asserted_group: 'db' });
    socket.close();
  });

  it('a second connection supersedes the first (4000); the old one’s frames are rejected', async () => {
    const { runnerId, token } = await enrolled('sup-1');
    const first = await TestRunnerSocket.connect(h.url, token);
    first.send({ ...(await repoPacksState()), hostname: 'sup-1' });
    await hooks.until(() => callsOf('deliverPending', runnerId)[0]);
    const second = await TestRunnerSocket.connect(h.url, token);
    expect(await first.waitClosed()).toEqual({ code: CLOSE_SUPERSEDED, reason: 'superseded' });
    second.send({ ...(await repoPacksState()), hostname: 'sup-1' });
    await hooks.until(() => callsOf('deliverPending', runnerId).some((c) => c.generation === 2));
    expect((await runnerRow(runnerId)).connection_generation).toBe(2);

    // A newer connection elsewhere whose notice has not arrived: the lease renewal finds out.
    await h.storage.db
      .updateTable('runners')
      .set((eb) => ({ connection_generation: eb('connection_generation', '+', 1) }))
      .where('id', '=', runnerId)
      .execute();
    second.send({ type: 'heartbeat' });
    second.send({ type: 'action_started', request_id: 'req_late' });
    expect(await second.waitClosed()).toEqual({ code: CLOSE_SUPERSEDED, reason: 'superseded' });
    expect(hooks.calls.some((c) => 'frame' in c && c.frame.request_id === 'req_late')).toBe(false);
    const row = await runnerRow(runnerId);
    // The newer connection's lease is not released by the superseded one closing.
    expect(row.lease_expires_at).not.toBeNull();
  });

  it('closes a socket silent for HEARTBEAT_TIMEOUT', async () => {
    const quick = await startTestApp({
      config: { timing: { ...TEST_TIMING, heartbeatTimeoutMs: 200 } },
      storage: h.storage,
      runHooks: new RecordingRunHooks(),
    });
    try {
      const { accountId, key } = await accountWithKey(quick, { reusable: true });
      const { token } = (await register(quick.url, key, registration('quiet-1'))).body as {
        token: string;
      };
      const socket = await TestRunnerSocket.connect(quick.url, token);
      expect(await socket.waitClosed()).toEqual({
        code: CLOSE_HEARTBEAT_TIMEOUT,
        reason: 'heartbeat_timeout',
      });
      await eventually(async () => {
        const row = await h.storage.db
          .selectFrom('runners')
          .select(['last_disconnect_reason'])
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow();
        return row.last_disconnect_reason === 'heartbeat_timeout';
      });
    } finally {
      await quick.close();
    }
  });

  it('publishes presence and trust changes on the account stream; account shutdown reaches the socket', async () => {
    const events: AccountEvent[] = [];
    const unsubscribe = await subscribeAccountEvents(h.bus, (event) => events.push(event));
    try {
      const { accountId, runnerId, token } = await enrolled('events-1');
      const socket = await TestRunnerSocket.connect(h.url, token);
      socket.send({ ...(await repoPacksState()), hostname: 'events-1' });
      await eventually(() => events.some((e) => e.kind === 'trust' && e.accountId === accountId));
      expect(events).toContainEqual({ accountId, kind: 'runner', id: runnerId });
      events.length = 0;
      await notifyAccountRunnersShutdown(h.bus, h.storage.db, accountId);
      expect(await socket.waitClosed()).toEqual({ code: 1000, reason: 'account_disabled' });
      expect(socket.frames.filter((f) => f.type === 'shutdown')).toEqual([
        { type: 'shutdown', protocol_version: 1, reason: 'account_disabled' },
      ]);
      await eventually(() => events.some((e) => e.kind === 'runner' && e.id === runnerId));
    } finally {
      await unsubscribe();
    }
  });

  it('refuses re-enrollment by the original key while connected, allows it once disconnected', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    const first = await register(h.url, key, registration('reconn-1'));
    const socket = await TestRunnerSocket.connect(h.url, first.body.token as string);
    const runner = await h.storage.db
      .selectFrom('runners')
      .select('id')
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    await eventually(async () => (await runnerRow(runner.id)).lease_expires_at !== null);
    expect(await register(h.url, key, registration('reconn-1'))).toEqual({
      status: 409,
      body: expect.objectContaining({ error: 'runner_exists', name: 'reconn-1' }),
    });
    socket.close();
    await eventually(async () => (await runnerRow(runner.id)).lease_expires_at === null);
    const again = await register(h.url, key, registration('reconn-1'));
    expect(again.status).toBe(201);
    expect(await TestRunnerSocket.open(h.url, first.body.token as string)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });
  });

  it('closes a socket that sends a frame over 2 MiB (1009)', async () => {
    const { token } = await enrolled('big-1');
    const socket = await TestRunnerSocket.connect(h.url, token);
    socket.send(`{"type":"heartbeat","protocol_version":1,"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    expect((await socket.waitClosed()).code).toBe(1009);
  });
});
