import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { findBySecret, mintSecret, SECRET_PREFIX, type SecretPrefix } from '../core/secrets.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { UserTokenPurpose } from './tables.js';

const PREFIX: Record<UserTokenPurpose, SecretPrefix> = {
  confirm_email: SECRET_PREFIX.emailConfirmation,
  password_reset: SECRET_PREFIX.passwordReset,
  bootstrap: SECRET_PREFIX.bootstrap,
};

export const USER_TOKEN_TTL_MS: Record<UserTokenPurpose, number> = {
  confirm_email: 7 * 86_400_000,
  password_reset: 30 * 60_000,
  bootstrap: 15 * 60_000,
};

/**
 * A single-use token; earlier unused tokens of the same purpose stop working.
 * For `null` (an address without an account) the same rows are written and the
 * token never works.
 */
export async function mintUserToken(
  trx: Kysely<Database>,
  userId: string | null,
  purpose: UserTokenPurpose,
  clock: Clock,
): Promise<string> {
  const now = clock.now();
  await trx
    .deleteFrom('user_tokens')
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
  const minted = mintSecret(PREFIX[purpose]);
  await trx
    .insertInto('user_tokens')
    .values({
      user_id: userId,
      purpose,
      lookup: minted.lookup,
      digest: minted.digest,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + USER_TOKEN_TTL_MS[purpose]).toISOString(),
    })
    .execute();
  return minted.secret;
}

/** Marks the token used and returns its user, or null when it is not a live token of that purpose. */
export async function consumeUserToken(
  trx: Tx,
  secret: string,
  purpose: UserTokenPurpose,
  clock: Clock,
): Promise<string | null> {
  const row = await findBySecret(secret, PREFIX[purpose], (lookup) =>
    trx
      .selectFrom('user_tokens')
      .select(['id', 'user_id', 'purpose', 'digest', 'expires_at', 'used_at'])
      .where('lookup', '=', lookup)
      .forUpdate()
      .executeTakeFirst(),
  );
  if (!row?.user_id || row.purpose !== purpose) return null;
  const now = clock.now();
  if (row.used_at || new Date(row.expires_at) <= now) return null;
  await trx
    .updateTable('user_tokens')
    .set({ used_at: now.toISOString() })
    .where('id', '=', row.id)
    .execute();
  return row.user_id;
}
