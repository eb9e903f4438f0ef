import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { fleetQueries } from '../fleet/queries.js';
import { RUNNER_WORK_CHANNEL } from '../fleet/runner-work.js';
import { insertRunner } from '../fleet/test-support/fixtures.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { sweepDispatchTimeouts } from './sweep.js';
import { insertRun } from './test-support/fixtures.js';

const timing = {
  dispatchGraceMs: 120_000,
  sentDeadlineMs: 30_000,
  runDeadlineMs: 60_000,
  sweepIntervalMs: 60_000,
};

describe(`dispatch-timeout sweep (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: TestStorage;
  let accountId: string;
  const secretKey = randomBytes(32);
  const clock = new ManualClock('2026-04-01T08:00:00Z');

  beforeAll(async () => {
    storage = await openTestStorage();
    accountId = (await seedWorkspace(storage.db)).account.id;
  });
  afterAll(async () => {
    await storage.close();
  });

  const sweep = () =>
    sweepDispatchTimeouts({ db: storage.db, bus: storage.bus, clock, timing, fleet: fleetQueries });
  const statusOf = async (id: string) =>
    storage.db
      .selectFrom('runs')
      .select(['status', 'status_reason', 'args_ciphertext'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const setLease = (runnerId: string, until: Date | null) =>
    storage.db
      .updateTable('runners')
      .set({ lease_expires_at: until ? until.toISOString() : null })
      .where('id', '=', runnerId)
      .execute();
  const at = (msAgo: number) => new Date(clock.now().getTime() - msAgo).toISOString();

  it('errors a pending run as runner_unreachable after DISPATCH_GRACE only while its runner is offline', async () => {
    const offline = await insertRunner(storage.db, accountId);
    const online = await insertRunner(storage.db, accountId);
    await setLease(online.id, new Date(clock.now().getTime() + 60_000));
    const young = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: offline.id,
      patch: { updated_at: at(timing.dispatchGraceMs - 1) },
    });
    const old = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: offline.id,
      patch: { updated_at: at(timing.dispatchGraceMs) },
    });
    const waitingForSlot = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: online.id,
      patch: { updated_at: at(timing.dispatchGraceMs * 3) },
    });
    expect(await sweep()).toMatchObject({ unreachable: 1 });
    expect(await statusOf(old.id)).toEqual({
      status: 'error',
      status_reason: 'runner_unreachable',
      args_ciphertext: null,
    });
    expect((await statusOf(young.id)).status).toBe('pending');
    expect((await statusOf(waitingForSlot.id)).status).toBe('pending');
    const events = await storage.db
      .selectFrom('audit_events')
      .select(['event_type', 'actor_kind'])
      .where('target_id', '=', old.id)
      .execute();
    expect(events).toEqual([{ event_type: 'run.error', actor_kind: 'system' }]);
    // Idempotent: a second tick finds nothing more.
    expect(await sweep()).toMatchObject({ unreachable: 0, outcomeUnknown: 0 });
  });

  it('redelivers a sent, unstarted run past SENT_DEADLINE while its runner is online, else outcome_unknown', async () => {
    const runner = await insertRunner(storage.db, accountId);
    await setLease(runner.id, new Date(clock.now().getTime() + 60_000));
    const sent = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: runner.id,
      status: 'sent',
      patch: { sent_at: at(timing.sentDeadlineMs), delivery_generation: 1 },
    });
    const woken: string[] = [];
    const stop = await storage.bus.subscribe(RUNNER_WORK_CHANNEL, (payload) => woken.push(payload));
    expect(await sweep()).toMatchObject({ redeliveries: 1, outcomeUnknown: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stop();
    expect(woken).toContain(runner.id);
    expect((await statusOf(sent.id)).status).toBe('sent');

    await setLease(runner.id, null);
    expect(await sweep()).toMatchObject({ outcomeUnknown: 1 });
    expect(await statusOf(sent.id)).toMatchObject({
      status: 'error',
      status_reason: 'outcome_unknown',
    });
  });

  it('errors a started run as outcome_unknown once its timeout plus RUN_DEADLINE passed with the runner gone', async () => {
    const runner = await insertRunner(storage.db, accountId);
    const running = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: runner.id,
      status: 'running',
      patch: {
        sent_at: at(500_000),
        started_at: at(timing.runDeadlineMs + 10_000 - 1),
        action_timeout_ms: 10_000,
      },
    });
    expect(await sweep()).toMatchObject({ outcomeUnknown: 0 });
    clock.advance(1);
    await setLease(runner.id, new Date(clock.now().getTime() + 60_000));
    expect(await sweep()).toMatchObject({ outcomeUnknown: 0 });
    await setLease(runner.id, null);
    expect(await sweep()).toMatchObject({ outcomeUnknown: 1 });
    expect(await statusOf(running.id)).toMatchObject({
      status: 'error',
      status_reason: 'outcome_unknown',
    });
  });

  it('ends a run cancelled before it started once the cancel had SENT_DEADLINE to land', async () => {
    const runner = await insertRunner(storage.db, accountId);
    const cancelling = await insertRun(storage.db, secretKey, {
      accountId,
      runnerId: runner.id,
      status: 'cancelling',
      patch: {
        sent_at: at(timing.sentDeadlineMs * 2),
        cancel_requested_at: at(timing.sentDeadlineMs),
        delivery_generation: 1,
      },
    });
    expect(await sweep()).toMatchObject({ cancelled: 1 });
    expect(await statusOf(cancelling.id)).toMatchObject({
      status: 'cancelled',
      status_reason: 'cancelled_before_start',
    });
  });
});
