import { type Kysely, sql } from 'kysely';
import { type AuditEventInput, recordAuditEvents } from '../audit/record.js';
import { systemActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import { revokeRunnerTokens } from './tokens.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface FleetCleanupResult {
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
  const conn = deps.db;
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
      const events: AuditEventInput[] = [];
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
      await recordAuditEvents(trx, events);
      return events;
    });
    runners += removed.filter((e) => e.eventType === 'runner.deleted').length;
    packVersions += removed.filter((e) => e.eventType === 'pack_trust.deleted').length;
  }
  return { runners, packVersions };
}

/** The cleanup hourly (first soon after start), one node at a time. */
export function fleetCleanupJob(
  deps: { clock: Clock },
  intervalMs = HOUR_MS,
): PeriodicJob<FleetCleanupResult> {
  return {
    name: 'fleet cleanup',
    lock: { namespace: 0x666c6574 /* 'flet' */, key: 1 },
    intervalMs,
    firstDelayMs: 1000,
    run: (db) => sweepFleetCleanup({ db, clock: deps.clock }),
  };
}
