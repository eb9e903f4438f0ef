import type { NotifyBus } from '../bus/notify-bus.js';
import type { Db } from '../core/tx.js';

/** Tells every node that a runner may have deliverable work (runs or cancels). */
export const RUNNER_WORK_CHANNEL = 'runner_work';

export async function notifyRunnerWork(
  bus: NotifyBus,
  executor: Db,
  runnerId: string,
): Promise<void> {
  await bus.publish(executor, RUNNER_WORK_CHANNEL, runnerId);
}
