import { sql } from 'kysely';
import type { AccountQueries } from '../accounts/index.js';
import { type AuditEventInput, recordAuditEvents } from '../audit/index.js';
import type { CatalogQueries } from '../catalog/index.js';
import { type AuditActor, systemActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Db, Tx } from '../core/tx.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import { revokeRunnerTokens } from './tokens.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface FleetCleanupResult {
  runners: number;
  packVersions: number;
}

export interface FleetCleanupDeps {
  clock: Clock;
  accounts: Pick<AccountQueries, 'liveAccountSettings'>;
  catalog: Pick<CatalogQueries, 'forgetRunnerActions' | 'forgetUnseenPackVersions'>;
}

/** One account's sweep: who acts, when, and the audit events so far. */
interface Sweep {
  accountId: string;
  now: Date;
  actor: AuditActor;
  events: AuditEventInput[];
}

/**
 * The optional cleanups of an account's settings: runners offline longer than
 * `runner_inactive_retention_hours` are deleted (tokens revoked, as an admin's
 * delete), and pack versions no live runner advertises and none has seen for
 * `pack_unseen_retention_days` are forgotten. Idempotent; audited per account.
 */
export async function sweepFleetCleanup(
  db: Db,
  deps: FleetCleanupDeps,
): Promise<FleetCleanupResult> {
  const now = deps.clock.now();
  const result: FleetCleanupResult = { runners: 0, packVersions: 0 };
  for (const account of await deps.accounts.liveAccountSettings(db)) {
    const hours = account.settings.runner_inactive_retention_hours ?? null;
    const days = account.settings.pack_unseen_retention_days ?? null;
    if (hours === null && days === null) continue;
    const events = await db.transaction().execute(async (trx) => {
      const sweep: Sweep = {
        accountId: account.id,
        now,
        actor: systemActor('fleet cleanup'),
        events: [],
      };
      if (hours !== null) await deleteInactiveRunners(trx, deps, sweep, hours);
      if (days !== null) await forgetUnseenPackVersions(trx, deps, sweep, days);
      await recordAuditEvents(trx, sweep.events);
      return sweep.events;
    });
    result.runners += events.filter((e) => e.eventType === 'runner.deleted').length;
    result.packVersions += events.filter((e) => e.eventType === 'pack_trust.deleted').length;
  }
  return result;
}

/** Runners without a live lease whose last sign of life is older than `hours`. */
async function deleteInactiveRunners(
  trx: Tx,
  deps: FleetCleanupDeps,
  sweep: Sweep,
  hours: number,
): Promise<void> {
  const now = sweep.now.toISOString();
  const before = new Date(sweep.now.getTime() - hours * HOUR_MS).toISOString();
  const stale = await trx
    .updateTable('runners')
    .set({ deleted_at: now })
    .where('account_id', '=', sweep.accountId)
    .where('deleted_at', 'is', null)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
    .where(sql<string>`coalesce(last_disconnected_at, last_connected_at, created_at)`, '<', before)
    .returning(['id', 'name'])
    .execute();
  for (const runner of stale) {
    const ref = { id: runner.id, accountId: sweep.accountId };
    await revokeRunnerTokens(trx, ref, sweep.now);
    await deps.catalog.forgetRunnerActions(trx, ref);
    sweep.events.push({
      accountId: sweep.accountId,
      eventType: 'runner.deleted',
      actor: sweep.actor,
      target: { kind: 'runner', id: runner.id, label: runner.name },
      payload: { reason: 'inactive', retention_hours: hours },
    });
  }
}

async function forgetUnseenPackVersions(
  trx: Tx,
  deps: FleetCleanupDeps,
  sweep: Sweep,
  days: number,
): Promise<void> {
  const before = new Date(sweep.now.getTime() - days * DAY_MS).toISOString();
  const unseen = await deps.catalog.forgetUnseenPackVersions(trx, sweep.accountId, before);
  for (const version of unseen) {
    sweep.events.push({
      accountId: sweep.accountId,
      eventType: 'pack_trust.deleted',
      actor: sweep.actor,
      target: {
        kind: 'pack_version',
        id: version.id,
        label: `${version.pack_id}@${version.version}`,
      },
      payload: { reason: 'unseen', retention_days: days },
    });
  }
}

/** The cleanup hourly (first soon after start), one node at a time. */
export function fleetCleanupJob(
  deps: FleetCleanupDeps,
  intervalMs = HOUR_MS,
): PeriodicJob<FleetCleanupResult> {
  return {
    name: 'fleet cleanup',
    lock: { namespace: 0x666c6574 /* 'flet' */, key: 1 },
    intervalMs,
    firstDelayMs: 1000,
    run: (db) => sweepFleetCleanup(db, deps),
  };
}
