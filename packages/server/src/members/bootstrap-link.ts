import { oldestLiveAccount } from '../accounts/index.js';
import { findUserById, mintUserToken } from '../auth/index.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../core/tx.js';
import { activeOwners } from './queries.js';

/**
 * A single-use, 15-minute sign-in link for the first owner (the earliest
 * owner of the oldest live account), accepted only from loopback. The secret
 * sits in the fragment; the page POSTs it. Null when there is no account yet.
 */
export async function mintBootstrapLink(
  db: Db,
  baseUrl: string,
  clock: Clock,
): Promise<{ link: string; email: string; accountSlug: string } | null> {
  const owners = await activeOwners(db);
  const account = await oldestLiveAccount(db, [...new Set(owners.map((o) => o.account_id))]);
  const owner = account && owners.find((o) => o.account_id === account.id);
  if (!account || !owner) return null;
  const user = (await findUserById(db, owner.user_id))!;
  const token = await mintUserToken(db, user.id, 'bootstrap', clock);
  return {
    link: `${baseUrl}/sign_in/bootstrap#${token}`,
    email: user.email,
    accountSlug: account.slug,
  };
}
