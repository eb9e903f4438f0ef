import type { Kysely } from 'kysely';
import { mintUserToken } from '../auth/user-tokens.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';

/**
 * A single-use, 15-minute sign-in link for the first owner (the earliest
 * owner of the oldest live account), accepted only from loopback. The secret
 * sits in the fragment; the page POSTs it. Null when there is no account yet.
 */
export async function mintBootstrapLink(
  db: Kysely<Database>,
  baseUrl: string,
  clock: Clock,
): Promise<{ link: string; email: string; accountSlug: string } | null> {
  const owner = await db
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.id', 'u.email', 'a.slug'])
    .where('m.role', '=', 'owner')
    .where('m.deleted_at', 'is', null)
    .where('m.suspended_at', 'is', null)
    .where('m.accepted_at', 'is not', null)
    .where('a.deleted_at', 'is', null)
    .orderBy('a.created_at')
    .orderBy('m.created_at')
    .limit(1)
    .executeTakeFirst();
  if (!owner) return null;
  const token = await mintUserToken(db, owner.id, 'bootstrap', clock);
  return {
    link: `${baseUrl}/sign_in/bootstrap#${token}`,
    email: owner.email,
    accountSlug: owner.slug,
  };
}
