import { type Kysely, sql } from 'kysely';
import { audit, systemActor } from '../accounts/audit-trail.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { revokeRunnerTokens } from './tokens.js';

/** Advisory lock keys of the fleet cleanup ('flet', 1): one node at a time. */
const FLEET_LOCK_NAMESPACE = 0x666c6574;
const CLEANUP_LOCK = 1;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface FleetCleanupResult {
  ran: boolean;
  runners: number;
  packVersions: number;
}

/**
 * The optional cleanups of an account's settings: runners offline longer than
 * `runner_inactive_retention_hours` are deleted (tokens revoked, as an admin's
 * delete), and pack versions no live runner advertises and none has seen for
 * `pack_unseen_retention_days` are forgotten. Idempotent; audited per account.
 */
export async function sweepFleetCleanup(deps: {
  db: Kysely<Database>;
  clock: Clock;
}): Promise<FleetCleanupResult> {
  const now = deps.clock.now();
  return deps.db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${FLEET_LOCK_NAMESPACE}, ${CLEANUP_LOCK}) as locked
    `.execute(conn);
    if (!rows[0]?.locked) return { ran: false, runners: 0, packVersions: 0 };
    try {
      const accounts = await conn
        .selectFrom('accounts')
        .select(['id', 'settings'])
        .where('deleted_at', 'is', null)
        .execute();
      let runners = 0;
      let packVersions = 0;
      for (const account of accounts) {
        const hours = account.settings.runner_inactive_retention_hours;
        const days = account.settings.pack_unseen_retention_days;
        if (hours === null && days === null) continue;
        const removed = await conn.transaction().execute(async (trx) => {
          const events: Parameters<typeof audit>[1][] = [];
          const actor = systemActor('fleet cleanup');
          if (hours !== null && hours !== undefined) {
            const before = new Date(now.getTime() - hours * HOUR_MS).toISOString();
            const stale = await trx
              .updateTable('runners')
              .set({ deleted_at: now.toISOString() })
              .where('account_id', '=', account.id)
              .where('deleted_at', 'is', null)
              .where((eb) =>
                eb.or([
                  eb('lease_expires_at', 'is', null),
                  eb('lease_expires_at', '<=', now.toISOString()),
                ]),
              )
              .where(
                sql<string>`coalesce(last_disconnected_at, last_connected_at, created_at)`,
                '<',
                before,
              )
              .returning(['id', 'name'])
              .execute();
            for (const runner of stale) {
              await revokeRunnerTokens(trx, { id: runner.id, accountId: account.id }, now);
              await trx
                .deleteFrom('runner_actions')
                .where('runner_id', '=', runner.id)
                .where('account_id', '=', account.id)
                .execute();
              events.push({
                accountId: account.id,
                eventType: 'runner.deleted',
                actor,
                target: { kind: 'runner', id: runner.id, label: runner.name },
                payload: { reason: 'inactive', retention_hours: hours },
              });
            }
          }
          if (days !== null && days !== undefined) {
            const before = new Date(now.getTime() - days * DAY_MS).toISOString();
            const unseen = await trx
              .deleteFrom('pack_versions as pv')
              .where('pv.account_id', '=', account.id)
              .where('pv.last_seen_at', '<', before)
              .where(({ not, exists, selectFrom }) =>
                not(
                  exists(
                    selectFrom('runner_actions as ra')
                      .select('ra.action_id')
                      .whereRef('ra.account_id', '=', 'pv.account_id')
                      .whereRef('ra.pack_id', '=', 'pv.pack_id')
                      .whereRef('ra.pack_version', '=', 'pv.version'),
                  ),
                ),
              )
              .returning(['pv.id', 'pv.pack_id', 'pv.version'])
              .execute();
            for (const version of unseen) {
              events.push({
                accountId: account.id,
                eventType: 'pack_trust.deleted',
                actor,
                target: {
                  kind: 'pack_version',
                  id: version.id,
                  label: `${version.pack_id}@${version.version}`,
                },
                payload: { reason: 'unseen', retention_days: days },
              });
            }
          }
          await audit(trx, ...events);
          return events;
        });
        runners += removed.filter((e) => e.eventType === 'runner.deleted').length;
        packVersions += removed.filter((e) => e.eventType === 'pack_trust.deleted').length;
      }
      return { ran: true, runners, packVersions };
    } finally {
      await sql`select pg_advisory_unlock(${FLEET_LOCK_NAMESPACE}, ${CLEANUP_LOCK})`.execute(conn);
    }
  });
}

/** Runs the cleanup hourly (and soon after start); every node runs it, the lock lets one work. */
export function startFleetCleanup(
  deps: { db: Kysely<Database>; clock: Clock },
  log: { error(fields: object, message: string): void },
  intervalMs = HOUR_MS,
): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const tick = () => {
    running ??= sweepFleetCleanup(deps)
      .catch((error: unknown) => log.error({ err: error }, 'fleet cleanup failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(tick, 1000);
  const timer = setInterval(tick, intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
