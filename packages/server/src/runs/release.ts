import type { Kysely } from 'kysely';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Database } from '../db/schema.js';

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
