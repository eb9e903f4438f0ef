import type { Kysely } from 'kysely';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries, TimingConfig } from '../fleet/index.js';
import { notifyRunnerWork } from '../fleet/index.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import { lockRun, type RunRow, transitionRun } from './transitions.js';

export interface RunSweepDeps {
  db: Kysely<Database>;
  fleet: Pick<FleetQueries, 'runnerPresence'>;
  bus: NotifyBus;
  clock: Clock;
  timing: Pick<
    TimingConfig,
    'dispatchGraceMs' | 'sentDeadlineMs' | 'runDeadlineMs' | 'sweepIntervalMs'
  >;
}

export interface RunSweepResult {
  unreachable: number;
  outcomeUnknown: number;
  cancelled: number;
  redeliveries: number;
}

const BATCH = 500;
const SWEEP_ACTOR: AuditActor = { kind: 'system', id: null, label: 'dispatch-timeouts' };

type Verdict =
  | { kind: 'error'; statusReason: 'runner_unreachable' | 'outcome_unknown' }
  | { kind: 'cancelled' }
  | { kind: 'redeliver' }
  | { kind: 'wait' };

/**
 * The dispatch-timeout sweep (spec § Runs, Delivery): a pending run its
 * runner never came online for within DISPATCH_GRACE errors as
 * `runner_unreachable`; a sent run with no `action_started` past
 * SENT_DEADLINE is redelivered while its runner is online, else errors as
 * `outcome_unknown`; a started run with no result past its timeout plus
 * RUN_DEADLINE while the runner is gone errors as `outcome_unknown`; a run
 * cancelled before it started ends as `cancelled` once the cancel had
 * SENT_DEADLINE to land. Re-derives everything from rows.
 */
export async function sweepDispatchTimeouts(deps: RunSweepDeps): Promise<RunSweepResult> {
  const result: RunSweepResult = {
    unreachable: 0,
    outcomeUnknown: 0,
    cancelled: 0,
    redeliveries: 0,
  };
  const conn = deps.db;
  const now = deps.clock.now();
  const before = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const candidates = await conn
    .selectFrom('runs')
    .select(['id', 'runner_id'])
    .where((eb) =>
      eb.or([
        eb.and([
          eb('status', '=', 'pending'),
          eb('updated_at', '<=', before(deps.timing.dispatchGraceMs)),
        ]),
        eb.and([
          eb('status', 'in', ['sent', 'cancelling']),
          eb('started_at', 'is', null),
          eb('sent_at', '<=', before(deps.timing.sentDeadlineMs)),
        ]),
        eb.and([
          eb('status', 'in', ['running', 'cancelling']),
          eb('started_at', 'is not', null),
          eb('started_at', '<=', before(deps.timing.runDeadlineMs)),
        ]),
      ]),
    )
    .orderBy('queued_at')
    .limit(BATCH)
    .execute();
  const wake = new Set<string>();
  for (const candidate of candidates) {
    await conn.transaction().execute(async (trx) => {
      const run = await lockRun(trx, { id: candidate.id });
      if (!run) return;
      const online = await runnerOnline(deps, trx, run, now);
      const verdict = judge(run, online, now, deps.timing);
      const at = now.toISOString();
      if (verdict.kind === 'redeliver') {
        wake.add(run.runner_id);
        result.redeliveries += 1;
      } else if (verdict.kind === 'cancelled') {
        await transitionRun(trx, deps.bus, run, {
          to: 'cancelled',
          statusReason: 'cancelled_before_start',
          patch: { cancelled_at: at },
          actor: SWEEP_ACTOR,
          now: at,
        });
        result.cancelled += 1;
      } else if (verdict.kind === 'error') {
        await transitionRun(trx, deps.bus, run, {
          to: 'error',
          statusReason: verdict.statusReason,
          actor: SWEEP_ACTOR,
          now: at,
        });
        if (verdict.statusReason === 'runner_unreachable') result.unreachable += 1;
        else result.outcomeUnknown += 1;
      }
    });
  }
  for (const runnerId of wake) await notifyRunnerWork(deps.bus, conn, runnerId);
  return result;
}

function judge(run: RunRow, online: boolean, now: Date, timing: RunSweepDeps['timing']): Verdict {
  const age = (at: string | null) => (at === null ? 0 : now.getTime() - new Date(at).getTime());
  if (run.status === 'pending') {
    return !online && age(run.updated_at) >= timing.dispatchGraceMs
      ? { kind: 'error', statusReason: 'runner_unreachable' }
      : { kind: 'wait' };
  }
  if (run.started_at === null) {
    if (run.status === 'cancelling') {
      return age(run.cancel_requested_at) >= timing.sentDeadlineMs
        ? { kind: 'cancelled' }
        : { kind: 'wait' };
    }
    if (run.status !== 'sent' || age(run.sent_at) < timing.sentDeadlineMs) return { kind: 'wait' };
    return online ? { kind: 'redeliver' } : { kind: 'error', statusReason: 'outcome_unknown' };
  }
  if (run.status !== 'running' && run.status !== 'cancelling') return { kind: 'wait' };
  return !online && age(run.started_at) >= run.action_timeout_ms + timing.runDeadlineMs
    ? { kind: 'error', statusReason: 'outcome_unknown' }
    : { kind: 'wait' };
}

/** Live presence: the runner holds a lease that has not run out. */
async function runnerOnline(
  deps: Pick<RunSweepDeps, 'fleet'>,
  trx: Tx,
  run: RunRow,
  now: Date,
): Promise<boolean> {
  const presence = await deps.fleet.runnerPresence(trx, run.account_id, run.runner_id);
  return presence?.leaseExpiresAt != null && new Date(presence.leaseExpiresAt) > now;
}

/** The dispatch-timeout sweep every SWEEP_INTERVAL (and soon after start), one node at a time. */
export function dispatchTimeoutJob(deps: Omit<RunSweepDeps, 'db'>): PeriodicJob<RunSweepResult> {
  return {
    name: 'dispatch timeout sweep',
    lock: { namespace: 0x72756e73 /* 'runs' */, key: 1 },
    intervalMs: deps.timing.sweepIntervalMs,
    firstDelayMs: 0,
    run: (db) => sweepDispatchTimeouts({ ...deps, db }),
  };
}
