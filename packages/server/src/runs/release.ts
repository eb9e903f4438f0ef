import type { Kysely } from 'kysely';
import type { AuditActor } from '../audit/record.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { lockRun, transitionRun } from './transitions.js';

/** Tells every node that a runner may have deliverable work (runs or cancels). */
export const RUNNER_WORK_CHANNEL = 'runner_work';

export async function notifyRunnerWork(
  bus: NotifyBus,
  executor: Kysely<Database>,
  runnerId: string,
): Promise<void> {
  await bus.publish(executor, RUNNER_WORK_CHANNEL, runnerId);
}

/**
 * How the approvals domain moves a parked run on, inside its own transaction
 * and after its re-checks (implemented by the runs domain).
 */
export interface RunRelease {
  /** Approved: the run becomes deliverable (`pending`). */
  release(trx: Kysely<Database>, runId: string): Promise<void>;
  /** Denied, expired, or refused by the current policy at release. */
  deny(trx: Kysely<Database>, runId: string, statusReason: string): Promise<void>;
}

export interface RunReleaseDeps {
  bus: NotifyBus;
  clock: Clock;
}

const APPROVALS_ACTOR: AuditActor = { kind: 'system', id: null, label: 'approvals' };

/** The runs side of an approval outcome; a run no longer awaiting approval is left as it is. */
export function createRunRelease(deps: RunReleaseDeps): RunRelease {
  const settle = async (
    trx: Kysely<Database>,
    runId: string,
    to: 'pending' | 'denied',
    statusReason: string | null,
  ) => {
    const run = await lockRun(trx, { id: runId });
    if (run?.status !== 'pending_approval') return;
    await transitionRun(trx, deps.bus, run, {
      to,
      statusReason,
      actor: APPROVALS_ACTOR,
      now: deps.clock.now().toISOString(),
    });
  };
  return {
    release: (trx, runId) => settle(trx, runId, 'pending', null),
    deny: (trx, runId, statusReason) => settle(trx, runId, 'denied', statusReason),
  };
}
