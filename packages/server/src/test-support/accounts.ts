import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { accountQueries } from '../accounts/queries.js';
import { findOrCreateUser, type UserRow } from '../auth/users.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Role, RunnerAccess } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import { type CreatedWorkspace, createWorkspace } from '../members/workspaces.js';
import { createDefaultPolicy } from '../policy/default-policy.js';

/** A bare account row (no owner, no policy, no audit event): enough for the audit log and fleet. */
export async function insertAccount(db: Kysely<Database>, plan = 'free'): Promise<string> {
  const row = await db
    .insertInto('accounts')
    .values({ slug: `acct-${randomUUID()}`, name: 'Test account', plan })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface SeededWorkspace extends CreatedWorkspace {
  owner: UserRow;
}

/** A confirmed owner and their workspace, written straight through the services. */
export async function seedWorkspace(
  db: Kysely<Database>,
  options: { email?: string; name?: string; clock?: Clock } = {},
): Promise<SeededWorkspace> {
  const clock = options.clock ?? systemClock;
  const email = options.email ?? `owner-${randomUUID()}@example.test`;
  return db.transaction().execute(async (trx) => {
    const { user } = await findOrCreateUser(trx, email, null);
    await trx
      .updateTable('users')
      .set({ confirmed_at: clock.now().toISOString() })
      .where('id', '=', user.id)
      .execute();
    const created = await createWorkspace(
      trx,
      { name: options.name ?? 'Seeded Workspace', owner: user },
      { clock, accounts: accountQueries, createDefaultPolicy },
    );
    return { ...created, owner: user };
  });
}

export interface InsertedMember {
  membershipId: string;
  userId: string;
  email: string;
}

/** A member written straight to the database (a target for team-management requests). */
export async function insertMember(
  db: Kysely<Database>,
  accountId: string,
  role: Role,
  state: { suspended?: boolean; pending?: boolean; runnerAccess?: RunnerAccess } = {},
): Promise<InsertedMember> {
  const email = `member-${randomUUID()}@example.test`;
  const user = await db
    .insertInto('users')
    .values({ email, full_name: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  const now = new Date().toISOString();
  const membership = await db
    .insertInto('memberships')
    .values({
      account_id: accountId,
      user_id: user.id,
      role,
      accepted_at: state.pending ? null : now,
      suspended_at: state.suspended ? now : null,
      invitation_expires_at: state.pending ? new Date(Date.now() + 86_400_000).toISOString() : null,
      ...(state.runnerAccess ? { runner_access: JSON.stringify(state.runnerAccess) } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { membershipId: membership.id, userId: user.id, email };
}

/** Gives a membership another runner reach. */
export async function setRunnerAccess(
  db: Kysely<Database>,
  membershipId: string,
  access: RunnerAccess,
): Promise<void> {
  await db
    .updateTable('memberships')
    .set({ runner_access: JSON.stringify(access) })
    .where('id', '=', membershipId)
    .execute();
}
