import { createHash } from 'node:crypto';
import { UUID_PATTERN } from '../core/parse-input.js';
import type { Db } from '../core/tx.js';
import type { RefusedActionRow } from './tables.js';

/** `<name>~<first 32 hex of sha256(external_id)>`: how agents address a runner. */
export function runnerRef(name: string, externalId: string): string {
  return `${name}~${createHash('sha256').update(externalId).digest('hex').slice(0, 32)}`;
}

export interface DispatchRunner {
  id: string;
  name: string;
  ref: string;
  group: string;
  disabled: boolean;
  deleted: boolean;
}

/**
 * The runner a request names, by id, by ref or by its unique name, within one
 * account. By id or ref a live runner wins over a deleted one with the same ref;
 * a name names live runners only. Null when none matches.
 */
export async function findRunnerForDispatch(
  db: Db,
  accountId: string,
  runnerIdRefOrName: string,
): Promise<DispatchRunner | null> {
  const byId = UUID_PATTERN.test(runnerIdRefOrName);
  const base = db
    .selectFrom('runners')
    .select(['id', 'name', 'ref', 'group_name', 'disabled_at', 'deleted_at'])
    .where('account_id', '=', accountId);
  const row =
    (await base
      .where(byId ? 'id' : 'ref', '=', byId ? runnerIdRefOrName.toLowerCase() : runnerIdRefOrName)
      .orderBy('deleted_at', (ob) => ob.desc().nullsFirst())
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst()) ??
    (await base
      .where('name', '=', runnerIdRefOrName)
      .where('deleted_at', 'is', null)
      .executeTakeFirst());
  if (!row) return null;
  return {
    id: row.id,
    name: row.name,
    ref: row.ref,
    group: row.group_name,
    disabled: row.disabled_at !== null,
    deleted: row.deleted_at !== null,
  };
}

/** Runners of the account holding a lease (online somewhere, or not yet expired). */
export async function leasedRunnerIds(db: Db, accountId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('runners')
    .select('id')
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .where('lease_expires_at', 'is not', null)
    .execute();
  return rows.map((r) => r.id);
}

/** Runners of the account not deleted (enabled or not, online or not), of one group when given. */
export async function liveRunnerIds(db: Db, accountId: string, group?: string): Promise<string[]> {
  let query = db
    .selectFrom('runners')
    .select('id')
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null);
  if (group !== undefined) query = query.where('group_name', '=', group);
  const rows = await query.execute();
  return rows.map((r) => r.id);
}

export type AgentRunnerStatus = 'connected' | 'disconnected' | 'pending' | 'disabled';

/** A runner as agents see it: never database ids beyond its own, external ids or credentials. */
export interface AgentRunner {
  id: string;
  ref: string;
  name: string;
  hostname: string;
  group: string;
  status: AgentRunnerStatus;
  lastSeenAt: string | null;
  labels: Record<string, string>;
}

/** The account's runners that are not deleted, by name, with their status at `now`. */
export async function agentRunners(db: Db, accountId: string, now: string): Promise<AgentRunner[]> {
  const rows = await db
    .selectFrom('runners')
    .select([
      'id',
      'ref',
      'name',
      'hostname',
      'group_name',
      'labels',
      'disabled_at',
      'lease_expires_at',
      'state_received_at',
      'last_connected_at',
      'last_disconnected_at',
    ])
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    ref: r.ref,
    name: r.name,
    hostname: r.hostname,
    group: r.group_name,
    status: r.disabled_at
      ? 'disabled'
      : r.lease_expires_at !== null && Date.parse(r.lease_expires_at) > Date.parse(now)
        ? 'connected'
        : r.state_received_at === null
          ? 'pending'
          : 'disconnected',
    lastSeenAt: r.last_disconnected_at ?? r.last_connected_at,
    labels: r.labels,
  }));
}

/** Why the runner refuses this action it loaded (local admission or a load rule); null if it does not. */
export async function refusedAction(
  db: Db,
  accountId: string,
  runnerId: string,
  actionId: string,
): Promise<RefusedActionRow | null> {
  const row = await db
    .selectFrom('runners')
    .select('refused_actions')
    .where('id', '=', runnerId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row?.refused_actions.find((a) => a.id === actionId) ?? null;
}

/** The fleet's tables as other domains may read them. */
export const fleetQueries = {
  agentRunners,
  findRunnerForDispatch,
  liveRunnerIds,
  refusedAction,
  runnerIdsInGroups,
  runnerPresence,
};
export type FleetQueries = typeof fleetQueries;

/** The ids of the account's runners in these groups, as a subquery for `in`. */
export function runnerIdsInGroups(db: Db, accountId: string, groups: readonly string[]) {
  return db
    .selectFrom('runners')
    .select('id')
    .where('account_id', '=', accountId)
    .where('group_name', 'in', groups);
}

/** The runner's current connection generation and lease end; null for an unknown runner. */
export async function runnerPresence(
  db: Db,
  accountId: string,
  runnerId: string,
): Promise<{ connectionGeneration: number; leaseExpiresAt: string | null } | null> {
  const row = await db
    .selectFrom('runners')
    .select(['connection_generation', 'lease_expires_at'])
    .where('id', '=', runnerId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row
    ? { connectionGeneration: row.connection_generation, leaseExpiresAt: row.lease_expires_at }
    : null;
}
