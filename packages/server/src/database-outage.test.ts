import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { insertApiKey } from './audit/test-support/fixtures.js';
import { createNotifyBus } from './bus/notify-bus.js';
import { ManualClock } from './core/clock.js';
import { openStorage, type Storage } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { notifyRunnerWork } from './fleet/runner-work.js';
import { newEnrollmentKey, register, registration } from './fleet/test-support/enrollment.js';
import { repoPacksState } from './fleet/test-support/fixtures.js';
import { type Frame, TestRunnerSocket } from './fleet/test-support/ws-client.js';
import { insertRun, resultFrame } from './runs/test-support/fixtures.js';
import { insertAccount } from './test-support/accounts.js';
import { TEST_TIMING, testConfig } from './test-support/config.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './test-support/database.js';
import { proxyDatabase, type TcpProxy } from './test-support/tcp-proxy.js';

async function eventually<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

/**
 * The control plane on PostgreSQL reached through a TCP proxy the test cuts:
 * every kind of route answers 503 `database_unavailable` with `Retry-After`
 * during the cut, and a runner frame the server could not store is never
 * acknowledged — the socket closes and the runner's replay fills the gap.
 */
describe.runIf(onPostgres)('a database outage (PostgreSQL behind a TCP proxy)', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let storage: Storage;
  let app: FastifyInstance;
  let url: string;
  const clock = new ManualClock(new Date());
  const secretKey = Buffer.alloc(32, 7);
  const logLines: Record<string, unknown>[] = [];
  let accountId: string;
  let slug: string;
  let mcpKey: string;
  let auditKey: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await proxyDatabase(database.url!);
    proxy = proxied.proxy;
    const target = { kind: 'postgres' as const, url: proxied.url };
    storage = await openStorage(target);
    await migrateToLatest(storage.db);
    const logs = new PassThrough();
    let pending = '';
    logs.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) logLines.push(JSON.parse(line) as Record<string, unknown>);
    });
    app = await createApp({
      config: testConfig({
        storage: target,
        secretKey,
        logLevel: 'info',
        // The test sockets send no heartbeats.
        timing: { ...TEST_TIMING, heartbeatTimeoutMs: 600_000 },
      }),
      storage,
      clock,
      logStream: logs,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    accountId = await insertAccount(storage.db, 'team');
    slug = (
      await storage.db
        .selectFrom('accounts')
        .select('slug')
        .where('id', '=', accountId)
        .executeTakeFirstOrThrow()
    ).slug;
    mcpKey = await insertApiKey(storage.db, accountId, 'mcp', clock);
    auditKey = await insertApiKey(storage.db, accountId, 'audit_export', clock);
  });
  afterAll(async () => {
    proxy?.unblock();
    await app?.close();
    await storage?.close();
    await proxy?.close();
    await database?.drop();
  });

  async function call(
    method: string,
    path: string,
    options: { bearer?: string; body?: unknown; origin?: boolean } = {},
  ): Promise<Answer> {
    const response = await fetch(url + path, {
      method,
      headers: {
        ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.origin ? { origin: 'http://localhost:8080' } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
  }

  async function newRunner(name: string): Promise<{ token: string; runnerId: string }> {
    const { key } = await newEnrollmentKey({ db: storage.db, clock }, accountId);
    const registered = await register(url, key, registration(name));
    expect(registered.status).toBe(201);
    const row = await storage.db
      .selectFrom('runners')
      .select('id')
      .where('external_id', '=', name)
      .executeTakeFirstOrThrow();
    return { token: String(registered.body.token), runnerId: row.id };
  }

  const warnings = () => logLines.filter((line) => Number(line.level) >= 40);

  it('answers 503 database_unavailable with Retry-After on every kind of route while cut, then recovers', async () => {
    const { key: enrollmentKey } = await newEnrollmentKey({ db: storage.db, clock }, accountId);
    const { token } = await newRunner('outage-routes');
    const requests: [string, () => Promise<Answer>][] = [
      [
        'REST with an API key',
        () => call('GET', `/api/v1/accounts/${slug}/runners`, { bearer: mcpKey }),
      ],
      ['audit export', () => call('GET', '/api/audit', { bearer: auditKey })],
      [
        'password sign-in',
        () =>
          call('POST', '/api/v1/sign_in/password', {
            body: { email: 'someone@example.test', password: 'correct horse battery' },
            origin: true,
          }),
      ],
      [
        'sign-in code request',
        () =>
          call('POST', '/api/v1/sign_in/code/request', {
            body: { email: 'someone@example.test' },
            origin: true,
          }),
      ],
      ['readiness', () => call('GET', '/readyz')],
    ];
    const runnerRequests: [string, () => Promise<Answer>][] = [
      [
        'runner register',
        () =>
          call('POST', '/runner/register', {
            bearer: enrollmentKey,
            body: registration('outage-late-host'),
          }),
      ],
      [
        'runner token refresh',
        () => call('POST', '/runner/token/refresh', { bearer: token, body: {} }),
      ],
    ];
    const warningsBefore = warnings().length;

    proxy.block();
    try {
      for (const [name, send] of requests) {
        const answer = await send();
        expect({ name, ...answer }).toMatchObject({
          name,
          status: 503,
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
          body: {
            error: { id: 'database_unavailable', message: expect.any(String) },
            request_id: expect.stringMatching(/^hreq_/),
          },
        });
      }
      // The runner endpoints keep their flat error shape.
      for (const [name, send] of runnerRequests) {
        const answer = await send();
        expect({ name, ...answer }).toMatchObject({
          name,
          status: 503,
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
          body: { error: 'database_unavailable' },
        });
      }
      const upgrade = await TestRunnerSocket.open(url, token);
      expect(upgrade).toEqual({ status: 503, body: { error: 'database_unavailable' } });
    } finally {
      proxy.unblock();
    }

    // One warning for the whole outage, however many requests failed in it.
    expect(
      warnings()
        .slice(warningsBefore)
        .map((line) => line.msg),
    ).toEqual([expect.any(String)]);
    expect(warnings().at(-1)).toMatchObject({ msg: expect.stringMatching(/database/i) });

    for (const [name, send] of requests.filter(([name]) => name !== 'readiness')) {
      const answer = await eventually(async () => {
        const next = await send();
        return next.status === 503 ? undefined : next;
      });
      expect({ name, status: answer.status }).toEqual({ name, status: expect.any(Number) });
      expect(answer.status).toBeLessThan(500);
    }
    expect((await call('GET', '/readyz')).status).toBe(200);
    const late = await runnerRequests[0]![1]();
    expect(late.status).toBe(201);
    expect(logLines.some((line) => /database reachable again/i.test(String(line.msg)))).toBe(true);
  });

  it('never acknowledges a frame it could not store: the socket closes and the replay completes the run', async () => {
    const { token, runnerId } = await newRunner('outage-frames');
    const run = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      status: 'sent',
      patch: { sent_at: clock.now().toISOString(), delivery_generation: 1 },
    });
    const progress = (seq: number): Frame => ({
      type: 'action_progress',
      request_id: run.requestId,
      seq,
      stream: 'stdout',
      data: `line-${seq}\n`,
    });
    const stored = async () =>
      (
        await storage.db
          .selectFrom('run_events')
          .select('runner_seq')
          .where('run_id', '=', run.id)
          .where('runner_seq', 'is not', null)
          .execute()
      ).map((row) => Number(row.runner_seq));
    const closedForOutage = { code: 1013, reason: 'database_unavailable' };

    const first = await TestRunnerSocket.connect(url, token);
    first.send({ type: 'action_started', request_id: run.requestId });
    first.send(progress(1));
    await eventually(async () => ((await stored()).includes(1) ? true : undefined));

    // A progress frame lands in the cut: not stored, so the socket must close.
    proxy.block();
    first.send(progress(2));
    expect(await first.waitClosed()).toEqual(closedForOutage);
    proxy.unblock();

    // The runner reconnects and replays everything unacknowledged; the result lands in a second cut.
    const second = await eventually(async () => {
      const opened = await TestRunnerSocket.open(url, token);
      return opened instanceof TestRunnerSocket ? opened : undefined;
    });
    second.send({ type: 'action_started', request_id: run.requestId });
    for (const seq of [1, 2, 3]) second.send(progress(seq));
    await eventually(async () => ((await stored()).length === 3 ? true : undefined));
    proxy.block();
    second.send(resultFrame(run.requestId, { progress_chunks: 3 }));
    expect(await second.waitClosed()).toEqual(closedForOutage);
    proxy.unblock();

    const third = await eventually(async () => {
      const opened = await TestRunnerSocket.open(url, token);
      return opened instanceof TestRunnerSocket ? opened : undefined;
    });
    for (const seq of [1, 2, 3]) third.send(progress(seq));
    third.send(resultFrame(run.requestId, { progress_chunks: 3 }));
    await third.waitFrame('ack_result');
    third.close();

    // Nothing was acknowledged (or refused as finalize_failed) on the sockets the outage closed.
    for (const socket of [first, second]) {
      expect(socket.frames.filter((f) => f.type === 'ack_result' || f.type === 'error')).toEqual(
        [],
      );
    }
    expect((await stored()).sort()).toEqual([1, 2, 3]);
    const row = await storage.db
      .selectFrom('runs')
      .select(['status', 'output_complete'])
      .where('id', '=', run.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'success', output_complete: true });
  });

  it('looks for work it could not hear about while the LISTEN connection was down', async () => {
    const { token, runnerId } = await newRunner('outage-work');
    const socket = await TestRunnerSocket.connect(url, token);
    socket.send(await repoPacksState());
    await eventually(async () => {
      const row = await storage.db
        .selectFrom('runner_actions')
        .select('runner_id')
        .where('runner_id', '=', runnerId)
        .executeTakeFirst();
      return row?.runner_id;
    });
    // A heartbeat queued behind the delivery that follows runner_state: once it renewed
    // the lease, the socket has nothing in flight to lose in the cut.
    clock.advance(60_000);
    const leaseAfter = new Date(clock.now().getTime() + TEST_TIMING.runnerLeaseMs).getTime();
    socket.send({ type: 'heartbeat' });
    await eventually(async () => {
      const row = await storage.db
        .selectFrom('runners')
        .select('lease_expires_at')
        .where('id', '=', runnerId)
        .executeTakeFirstOrThrow();
      return new Date(row.lease_expires_at!).getTime() === leaseAfter ? true : undefined;
    });
    // Another node, still reaching the database, queues a run and announces it: unheard here.
    const direct = await openStorage(database.target);
    try {
      proxy.block();
      const run = await insertRun(direct.db, secretKey, { accountId, runnerId });
      await notifyRunnerWork(createNotifyBus(direct), direct.db, runnerId);
      proxy.unblock();
      const sent = await socket.waitFrame('run_action');
      expect(sent.request_id).toBe(run.requestId);
    } finally {
      proxy.unblock();
      await direct.close();
    }
    socket.close();
  });
});
