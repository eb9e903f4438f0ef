import type { ShutdownReason } from '@emisar/protocol';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Db, Tx } from '../core/tx.js';
import { leasedRunnerIds } from './queries.js';

/** Cross-node control of runner sockets: `<kind>:<runner id>[:<generation>]`. */
export const RUNNER_CONTROL_CHANNEL = 'runner_control';

export type RunnerControl =
  /** A newer connection (on any node) took the runner: close older ones with 4000. */
  | { kind: 'superseded'; runnerId: string; generation: number }
  /** Send `shutdown {reason}` and close. */
  | { kind: 'shutdown'; runnerId: string; reason: ShutdownReason };

export function encodeRunnerControl(control: RunnerControl): string {
  return control.kind === 'superseded'
    ? `superseded:${control.runnerId}:${control.generation}`
    : `shutdown:${control.runnerId}:${control.reason}`;
}

export function decodeRunnerControl(payload: string): RunnerControl | null {
  const [kind, runnerId, detail] = payload.split(':');
  if (!runnerId || !detail) return null;
  if (kind === 'superseded' && /^\d+$/.test(detail)) {
    return { kind, runnerId, generation: Number(detail) };
  }
  if (kind === 'shutdown') return { kind, runnerId, reason: detail as ShutdownReason };
  return null;
}

/**
 * Tells whichever node holds the runner's socket to send `shutdown {reason}`
 * and close it (delivered on commit when `executor` is a transaction).
 */
export async function notifyRunnerShutdown(
  bus: NotifyBus,
  executor: Db,
  runnerId: string,
  reason: ShutdownReason,
): Promise<void> {
  await bus.publish(
    executor,
    RUNNER_CONTROL_CHANNEL,
    encodeRunnerControl({ kind: 'shutdown', runnerId, reason }),
  );
}

/** Tells every node that a newer connection (this generation) took the runner. */
export async function notifyRunnerSuperseded(
  bus: NotifyBus,
  trx: Tx,
  runnerId: string,
  generation: number,
): Promise<void> {
  await bus.publish(
    trx,
    RUNNER_CONTROL_CHANNEL,
    encodeRunnerControl({ kind: 'superseded', runnerId, generation }),
  );
}

/** For whoever disables an account: every runner of it gets `shutdown account_disabled`. */
export async function notifyAccountRunnersShutdown(
  bus: NotifyBus,
  executor: Db,
  accountId: string,
): Promise<void> {
  for (const id of await leasedRunnerIds(executor, accountId)) {
    await notifyRunnerShutdown(bus, executor, id, 'account_disabled');
  }
}
