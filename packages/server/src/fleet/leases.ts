import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../core/tx.js';
import { notifyRunnerSuperseded } from './runner-control.js';

/** One connection's hold on its runner row. */
export interface LeaseHolder {
  runnerId: string;
  accountId: string;
  generation: number;
  closeReason: string;
}

export interface RunnerLeases {
  /** Takes the runner for a new connection; its generation, or null when the runner is disabled or gone. */
  claim(holder: Pick<LeaseHolder, 'runnerId' | 'accountId'>): Promise<number | null>;
  /** Renews the lease; false when a newer connection holds the runner. */
  renew(holder: LeaseHolder): Promise<boolean>;
  /** Gives the runner up when the connection closed, unless a newer one took it. */
  release(holder: LeaseHolder): Promise<void>;
}

/**
 * Connection ownership in the database: each connection bumps the runner's
 * generation and holds a lease in this node's name until it closes.
 */
export function createRunnerLeases(deps: {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  nodeId: string;
  leaseMs: number;
}): RunnerLeases {
  const { db, clock, bus, nodeId } = deps;
  const leaseUntil = () => new Date(clock.now().getTime() + deps.leaseMs).toISOString();
  const runnerChanged = (executor: Db, holder: Pick<LeaseHolder, 'runnerId' | 'accountId'>) =>
    publishAccountEvent(bus, executor, {
      accountId: holder.accountId,
      kind: 'runner',
      id: holder.runnerId,
    });

  return {
    async claim(holder) {
      const now = clock.now().toISOString();
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('runners')
          .set((eb) => ({
            connection_generation: eb('connection_generation', '+', 1),
            lease_node: nodeId,
            lease_expires_at: leaseUntil(),
            last_connected_at: now,
          }))
          .where('id', '=', holder.runnerId)
          .where('account_id', '=', holder.accountId)
          .where('deleted_at', 'is', null)
          .where('disabled_at', 'is', null)
          .returning('connection_generation')
          .executeTakeFirst();
        if (!row) return null;
        await notifyRunnerSuperseded(bus, trx, holder.runnerId, row.connection_generation);
        await runnerChanged(trx, holder);
        return row.connection_generation;
      });
    },

    async renew(holder) {
      const row = await db
        .updateTable('runners')
        .set({ lease_expires_at: leaseUntil(), lease_node: nodeId })
        .where('id', '=', holder.runnerId)
        .where('account_id', '=', holder.accountId)
        .where('connection_generation', '=', holder.generation)
        .where('deleted_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },

    release: (holder) =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('runners')
          .set({
            lease_node: null,
            lease_expires_at: null,
            last_disconnected_at: clock.now().toISOString(),
            last_disconnect_reason: holder.closeReason,
          })
          .where('id', '=', holder.runnerId)
          .where('account_id', '=', holder.accountId)
          .where('connection_generation', '=', holder.generation)
          .returning('id')
          .executeTakeFirst();
        if (row) await runnerChanged(trx, holder);
      }),
  };
}
