import type { MembershipRow } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { FULL_PACK_ACCESS, FULL_RUNNER_ACCESS, type Role } from '../core/roles.js';
import type { Db, Tx } from '../core/tx.js';

/** Joined: accepted and not removed (suspended ones included). */
function joined(db: Db) {
  return db
    .selectFrom('memberships')
    .where('deleted_at', 'is', null)
    .where('accepted_at', 'is not', null);
}

/** The workspaces each of `userIds` has joined. */
export function joinedAccountsOf(
  db: Db,
  userIds: readonly string[],
): Promise<{ user_id: string; account_id: string }[]> {
  return joined(db).select(['user_id', 'account_id']).where('user_id', 'in', userIds).execute();
}

/** A person's joined memberships, whatever workspace. */
export function joinedMembershipsOf(db: Db, userId: string): Promise<MembershipRow[]> {
  return joined(db).selectAll().where('user_id', '=', userId).execute();
}

/** The joined membership of a person (or the one an API key acts as) in one workspace. */
export function findJoinedMembership(
  db: Db,
  accountId: string,
  who: { userId: string } | { membershipId: string },
): Promise<MembershipRow | undefined> {
  const query = joined(db).selectAll().where('account_id', '=', accountId);
  return (
    'userId' in who
      ? query.where('user_id', '=', who.userId)
      : query.where('id', '=', who.membershipId)
  ).executeTakeFirst();
}

/** Any membership by id, whatever its state (an API key checks the one it acts as). */
export function findMembershipById(db: Db, id: string): Promise<MembershipRow | undefined> {
  return db.selectFrom('memberships').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Active (joined, not suspended) owners, oldest first; of one workspace when given. */
export function activeOwners(db: Db, accountId?: string): Promise<MembershipRow[]> {
  let query = joined(db).selectAll().where('role', '=', 'owner').where('suspended_at', 'is', null);
  if (accountId !== undefined) query = query.where('account_id', '=', accountId);
  return query.orderBy('created_at').execute();
}

/** The active membership of a person in a workspace (joined, not suspended). */
export function findActiveMembership(
  db: Db,
  accountId: string,
  userId: string,
): Promise<MembershipRow | undefined> {
  return joined(db)
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('suspended_at', 'is', null)
    .executeTakeFirst();
}

const LAST_ACTIVE_GRANULARITY_MS = 60_000;

/** Notes that a member used the workspace, at most once a minute. */
export async function touchLastActive(db: Db, membership: MembershipRow, clock: Clock) {
  const now = clock.now();
  const before = new Date(now.getTime() - LAST_ACTIVE_GRANULARITY_MS).toISOString();
  if (membership.last_active_at && membership.last_active_at > before) return;
  await db
    .updateTable('memberships')
    .set({ last_active_at: now.toISOString() })
    .where('id', '=', membership.id)
    .where('account_id', '=', membership.account_id)
    .execute();
}

/** The creator of a workspace joins it as owner with full reach. */
export async function insertOwnerMembership(
  trx: Tx,
  accountId: string,
  userId: string,
  now: string,
): Promise<string> {
  const row = await trx
    .insertInto('memberships')
    .values({
      account_id: accountId,
      user_id: userId,
      role: 'owner',
      accepted_at: now,
      runner_access: JSON.stringify(FULL_RUNNER_ACCESS),
      pack_access: JSON.stringify(FULL_PACK_ACCESS),
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** What other domains read of memberships; app.ts passes it (or a Pick of it) to their factories. */
export const memberQueries = {
  joinedAccountsOf,
  joinedMembershipsOf,
  findJoinedMembership,
  findMembershipById,
  activeOwners,
  findActiveMembership,
  touchLastActive,
  activeMembersWithRoles,
};
export type MemberQueries = typeof memberQueries;

/** The active (joined, not suspended) members of a workspace holding one of `roles`. */
export function activeMembersWithRoles(
  db: Db,
  accountId: string,
  roles: readonly Role[],
): Promise<MembershipRow[]> {
  if (!roles.length) return Promise.resolve([]);
  return joined(db)
    .selectAll()
    .where('account_id', '=', accountId)
    .where('suspended_at', 'is', null)
    .where('role', 'in', roles)
    .execute();
}
