import { randomBytes, randomUUID } from 'node:crypto';
import type { RunActionFrame } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeAccountEvents } from '../bus/account-events.js';
import { ManualClock } from '../core/clock.js';
import { fleetQueries } from '../fleet/queries.js';
import type { RunHooks } from '../fleet/run-hooks.js';
import { insertRunner } from '../fleet/test-support/fixtures.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import { createRunRelease } from './release.js';
import { RUN_EVENTS_MAX } from './run-events.js';
import { createRunHooks } from './runner-hooks.js';
import { insertRun, RecordingConnection, resultFrame } from './test-support/fixtures.js';

const SENT_DEADLINE_MS = 30_000;

describe('run hooks (the gateway side of a run)', () => {
  let storage: TestStorage;
  let hooks: RunHooks;
  let accountId: string;
  const secretKey = randomBytes(32);
  const clock = new ManualClock('2026-03-01T10:00:00Z');

  beforeAll(async () => {
    storage = await openTestStorage();
    hooks = createRunHooks({
      fleet: fleetQueries,
      db: storage.db,
      bus: storage.bus,
      clock,
      secretKey,
      sentDeadlineMs: SENT_DEADLINE_MS,
    });
    accountId = (await seedWorkspace(storage.db)).account.id;
  });
  afterAll(async () => {
    await storage.close();
  });

  /** A runner row whose live connection generation is `generation`. */
  const newRunner = async (generation = 1) => {
    const { id } = await insertRunner(storage.db, accountId);
    await useGeneration(id, generation);
    return id;
  };
  const useGeneration = (runnerId: string, generation: number) =>
    storage.db
      .updateTable('runners')
      .set({ connection_generation: generation })
      .where('id', '=', runnerId)
      .execute();
  const run = (id: string) =>
    storage.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const auditTypes = async (runId: string) =>
    (
      await storage.db
        .selectFrom('audit_events')
        .select('event_type')
        .where('target_id', '=', runId)
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);

  it('delivers a pending run with its exact arguments, then runs it to success with its output', async () => {
    const runnerId = await newRunner(3);
    const created = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      argsText: '{"n": 9223372036854775807, "host": "web-1"}',
    });
    const connection = new RecordingConnection(accountId, runnerId, 3);
    const seen: string[] = [];
    const stop = await subscribeAccountEvents(storage.bus, (e) => {
      if (e.id === created.id) seen.push(e.kind);
    });

    await hooks.deliverPending(connection);
    const [frame] = connection.take() as RunActionFrame[];
    expect(frame).toMatchObject({
      type: 'run_action',
      request_id: created.requestId,
      action_id: 'linux.uptime',
      reason: 'checking the load on this host',
    });
    expect(String((frame!.args as { n: unknown }).n)).toBe('9223372036854775807');
    expect(await run(created.id)).toMatchObject({ status: 'sent', delivery_generation: 3 });

    // Nothing more to deliver on the same connection.
    await hooks.deliverPending(connection);
    expect(connection.take()).toEqual([]);

    await hooks.actionStarted(connection, {
      type: 'action_started',
      request_id: created.requestId,
    });
    expect((await run(created.id)).status).toBe('running');
    for (const seq of [1, 2, 1, 2]) {
      await hooks.actionProgress(connection, {
        type: 'action_progress',
        request_id: created.requestId,
        seq,
        stream: 'stdout',
        data: `line ${seq}\n`,
      });
    }
    const answer = await hooks.actionResult(
      connection,
      resultFrame(created.requestId, { progress_chunks: 2 }),
    );
    expect(answer).toBe('ack');
    const done = await run(created.id);
    expect(done).toMatchObject({
      status: 'success',
      exit_code: 0,
      output_complete: true,
      args_ciphertext: null,
      executed_command: 'uptime',
    });
    expect(done.args_redacted).toBe('{"n":9223372036854775807,"host":"web-1"}');
    const events = await storage.db
      .selectFrom('run_events')
      .select(['seq', 'kind', 'runner_seq', 'payload'])
      .where('run_id', '=', created.id)
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.kind === 'progress').map((e) => e.payload)).toEqual([
      'line 1\n',
      'line 2\n',
    ]);
    expect(await auditTypes(created.id)).toEqual(['run.sent', 'run.running', 'run.success']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await stop();
    expect(seen).toContain('run_output');
    expect(seen.filter((k) => k === 'run')).toHaveLength(3);
  });

  it('acks a duplicate result without finalising again, and ignores a result for another runner', async () => {
    const runnerId = await newRunner();
    const created = await insertRun(storage.db, secretKey, { accountId, runnerId });
    const connection = new RecordingConnection(accountId, runnerId);
    await hooks.deliverPending(connection);

    const stranger = new RecordingConnection(accountId, randomUUID());
    expect(await hooks.actionResult(stranger, resultFrame(created.requestId))).toBe('ack');
    expect((await run(created.id)).status).toBe('sent');
    expect(await hooks.actionResult(stranger, resultFrame('req_unknown'))).toBe('ack');

    expect(
      await hooks.actionResult(
        connection,
        resultFrame(created.requestId, { exit_code: 3, status: 'failed' }),
      ),
    ).toBe('ack');
    const first = await run(created.id);
    clock.advance(5_000);
    expect(await hooks.actionResult(connection, resultFrame(created.requestId))).toBe('ack');
    const second = await run(created.id);
    expect(second).toEqual(first);
    expect(second).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(await auditTypes(created.id)).toEqual(['run.sent', 'run.failed']);
  });

  it('stores output_complete false when a counted chunk is missing or the runner dropped some', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    const a = await insertRun(storage.db, secretKey, { accountId, runnerId });
    const b = await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(connection);
    await hooks.actionProgress(connection, {
      type: 'action_progress',
      request_id: a.requestId,
      seq: 2,
      stream: 'stderr',
      data: 'only the second\n',
    });
    await hooks.actionResult(connection, resultFrame(a.requestId, { progress_chunks: 2 }));
    await hooks.actionResult(
      connection,
      resultFrame(b.requestId, { progress_chunks: 0, dropped_progress_chunks: 1 }),
    );
    expect((await run(a.id)).output_complete).toBe(false);
    expect((await run(b.id)).output_complete).toBe(false);
  });

  it('maps the runner refusals to refused with the runner status as the reason; runner reasons pass through', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    const a = await insertRun(storage.db, secretKey, { accountId, runnerId });
    const b = await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(connection);
    await hooks.actionResult(
      connection,
      resultFrame(a.requestId, { status: 'pack_hash_mismatch', exit_code: null }),
    );
    await hooks.actionResult(
      connection,
      resultFrame(b.requestId, {
        status: 'failed',
        reason: 'dispatch_id_conflict',
        exit_code: null,
      }),
    );
    expect(await run(a.id)).toMatchObject({
      status: 'refused',
      status_reason: 'pack_hash_mismatch',
    });
    expect(await run(b.id)).toMatchObject({
      status: 'failed',
      status_reason: 'dispatch_id_conflict',
    });
    expect(await auditTypes(a.id)).toEqual(['run.sent', 'run.refused']);
  });

  it('stops storing progress at the per-run budget, counting the rest as dropped', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    const created = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      patch: { event_count: RUN_EVENTS_MAX - 1 },
    });
    await hooks.deliverPending(connection);
    for (const seq of [1, 2, 3]) {
      await hooks.actionProgress(connection, {
        type: 'action_progress',
        request_id: created.requestId,
        seq,
        stream: 'stdout',
        data: `chunk ${seq}\n`,
      });
    }
    // The `sent` transition took the last free place: every chunk is over budget.
    expect(await run(created.id)).toMatchObject({ event_count: RUN_EVENTS_MAX, events_dropped: 3 });
    await hooks.actionResult(connection, resultFrame(created.requestId, { progress_chunks: 3 }));
    expect((await run(created.id)).output_complete).toBe(false);
  });

  it('answers finalize_failed when the result cannot be stored', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    const created = await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(connection);
    // A structured output the writer refuses (a lone surrogate) fails the finalise transaction.
    const answer = await hooks.actionResult(
      connection,
      resultFrame(created.requestId, { structured_output: { bad: '\ud800' } }),
    );
    expect(answer).toBe('finalize_failed');
    expect((await run(created.id)).status).toBe('sent');
    expect(await hooks.actionResult(connection, resultFrame(created.requestId))).toBe('ack');
    expect((await run(created.id)).status).toBe('success');
  });

  it('re-queues on concurrency_cap_reached and delivers the same request id again later', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    const created = await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(connection);
    connection.take();
    await hooks.runnerError(connection, {
      type: 'error',
      code: 'concurrency_cap_reached',
      request_id: created.requestId,
      message: 'runner is at its concurrent action limit',
    });
    expect(await run(created.id)).toMatchObject({ status: 'pending', status_reason: null });
    await hooks.deliverPending(connection);
    expect(connection.take()).toMatchObject([
      { type: 'run_action', request_id: created.requestId },
    ]);
    expect((await run(created.id)).delivery_count).toBe(2);
  });

  it('sends at most 8 runs to one runner at a time', async () => {
    const runnerId = await newRunner();
    const connection = new RecordingConnection(accountId, runnerId);
    for (let i = 0; i < 10; i++) await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(connection);
    const sent = connection.take() as RunActionFrame[];
    expect(sent).toHaveLength(8);
    await hooks.actionResult(connection, resultFrame(sent[0]!.request_id));
    await hooks.deliverPending(connection);
    expect(connection.take()).toHaveLength(1);
  });

  it('redelivers a sent run on a new connection at once (never on the superseded one), and after SENT_DEADLINE', async () => {
    const runnerId = await newRunner();
    const created = await insertRun(storage.db, secretKey, { accountId, runnerId });
    const first = new RecordingConnection(accountId, runnerId, 1);
    await hooks.deliverPending(first);
    expect(first.take()).toHaveLength(1);

    await useGeneration(runnerId, 2);
    await insertRun(storage.db, secretKey, { accountId, runnerId });
    await hooks.deliverPending(first);
    expect(first.take()).toEqual([]);
    const second = new RecordingConnection(accountId, runnerId, 2);
    await hooks.deliverPending(second);
    expect(second.take()).toMatchObject([
      { request_id: created.requestId },
      { type: 'run_action' },
    ]);
    await hooks.deliverPending(second);
    expect(second.take()).toEqual([]);
    clock.advance(SENT_DEADLINE_MS);
    await hooks.deliverPending(second);
    const again = second.take() as RunActionFrame[];
    expect(again).toMatchObject([{ request_id: created.requestId }, { type: 'run_action' }]);
    expect(await run(created.id)).toMatchObject({
      status: 'sent',
      delivery_generation: 2,
      delivery_count: 3,
    });
    // Started: no more redelivery.
    await hooks.actionStarted(second, { type: 'action_started', request_id: created.requestId });
    clock.advance(SENT_DEADLINE_MS);
    await hooks.deliverPending(second);
    expect(
      second.take().filter((f) => 'request_id' in f && f.request_id === created.requestId),
    ).toEqual([]);
  });

  it('sends a cancel once per connection for a cancelling run', async () => {
    const runnerId = await newRunner();
    const created = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      status: 'cancelling',
      patch: { delivery_generation: 1, sent_at: clock.now().toISOString() },
    });
    const connection = new RecordingConnection(accountId, runnerId, 1);
    await hooks.deliverPending(connection);
    expect(connection.take()).toEqual([{ type: 'cancel', request_id: created.requestId }]);
    await hooks.deliverPending(connection);
    expect(connection.take()).toEqual([]);
    await useGeneration(runnerId, 2);
    const next = new RecordingConnection(accountId, runnerId, 2);
    await hooks.deliverPending(next);
    expect(next.take()).toEqual([{ type: 'cancel', request_id: created.requestId }]);
    await hooks.actionResult(
      next,
      resultFrame(created.requestId, { status: 'cancelled', exit_code: null }),
    );
    expect(await run(created.id)).toMatchObject({ status: 'cancelled', args_ciphertext: null });
  });

  it('releases an approved run to pending and ends a denied one with its reason', async () => {
    const release = createRunRelease({ bus: storage.bus, clock });
    const runnerId = await newRunner();
    const approved = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      status: 'pending_approval',
    });
    const denied = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId,
      status: 'pending_approval',
    });
    await storage.db.transaction().execute(async (trx) => {
      await release.release(trx, approved.id);
      await release.deny(trx, denied.id, 'approval_expired');
    });
    expect((await run(approved.id)).status).toBe('pending');
    expect(await run(denied.id)).toMatchObject({
      status: 'denied',
      status_reason: 'approval_expired',
      args_ciphertext: null,
    });
    // A second release of a run no longer parked changes nothing.
    await storage.db
      .transaction()
      .execute((trx) => release.deny(trx, approved.id, 'approval_denied'));
    expect((await run(approved.id)).status).toBe('pending');
  });
});
