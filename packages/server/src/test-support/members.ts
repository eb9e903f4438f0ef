import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from '../members/roles.js';

/** A member written straight to the database (a target for team-management requests). */
export async function insertMember(
  db: Kysely<Database>,
  accountId: string,
  role: Role,
  state: { suspended?: boolean; pending?: boolean } = {},
): Promise<{ membershipId: string; userId: string; email: string }> {
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
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { membershipId: membership.id, userId: user.id, email };
}
