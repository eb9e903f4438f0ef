import type { Kysely } from 'kysely';
import { accountIsUsable, findAccountById } from '../accounts/index.js';
import type { Clock } from '../core/clock.js';
import { findBySecret, mintSecret, SECRET_PREFIX } from '../core/secrets.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';

export const SINGLE_USE_DEFAULT_TTL_MS = 24 * 3_600_000;
export const REUSABLE_DEFAULT_TTL_MS = 30 * 86_400_000;

export interface CreateEnrollmentKeyInput {
  accountId: string;
  name: string;
  reusable: boolean;
  /** Reusable keys only; null = unlimited until expiry. */
  maxUses: number | null;
  /** Default: 24 h single-use, 30 days reusable. */
  expiresAt?: Date;
  pinnedGroup: string | null;
  createdBy: string | null;
}

export interface CreatedEnrollmentKey {
  id: string;
  secret: string;
  expiresAt: string | null;
}

export async function createEnrollmentKey(
  trx: Kysely<Database>,
  input: CreateEnrollmentKeyInput,
  clock: Clock,
): Promise<CreatedEnrollmentKey> {
  const now = clock.now();
  const ttl = input.reusable ? REUSABLE_DEFAULT_TTL_MS : SINGLE_USE_DEFAULT_TTL_MS;
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + ttl);
  const minted = mintSecret(SECRET_PREFIX.enrollmentKey);
  const row = await trx
    .insertInto('enrollment_keys')
    .values({
      account_id: input.accountId,
      name: input.name,
      lookup: minted.lookup,
      digest: minted.digest,
      reusable: input.reusable,
      max_uses: input.reusable ? input.maxUses : 1,
      pinned_group: input.pinnedGroup,
      created_by: input.createdBy,
      expires_at: expiresAt.toISOString(),
      created_at: now.toISOString(),
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, secret: minted.secret, expiresAt: row.expires_at };
}

export interface EnrollmentGrant {
  keyId: string;
  accountId: string;
  /** The group the runner is fixed to, when the key pins one. */
  pinnedGroup: string | null;
}

/** A usable key, locked for the caller's transaction; `exhausted` when no use is left. */
export interface LockedEnrollmentKey extends EnrollmentGrant {
  exhausted: boolean;
}

/**
 * Finds and locks an enrollment key without spending a use (re-enrollment by
 * the key that first enrolled a runner spends none). Null when the secret is
 * malformed, unknown, revoked or expired, or its account is gone or disabled.
 */
export async function lockEnrollmentKey(
  trx: Tx,
  secret: string,
  clock: Clock,
): Promise<LockedEnrollmentKey | null> {
  const row = await findBySecret(secret, SECRET_PREFIX.enrollmentKey, (lookup) =>
    trx
      .selectFrom('enrollment_keys')
      .selectAll()
      .where('lookup', '=', lookup)
      .forUpdate()
      .executeTakeFirst(),
  );
  if (!row) return null;
  const now = clock.now();
  if (row.revoked_at || (row.expires_at && new Date(row.expires_at) <= now)) return null;
  const account = await findAccountById(trx, row.account_id);
  if (!account || !accountIsUsable(account)) return null;
  return {
    keyId: row.id,
    accountId: row.account_id,
    pinnedGroup: row.pinned_group,
    exhausted: row.max_uses !== null && row.uses >= row.max_uses,
  };
}

/** Spends one use of a key locked by lockEnrollmentKey, in the same transaction. */
export async function spendEnrollmentKeyUse(
  trx: Tx,
  key: EnrollmentGrant,
  clock: Clock,
): Promise<void> {
  await trx
    .updateTable('enrollment_keys')
    .set((eb) => ({ uses: eb('uses', '+', 1), last_used_at: clock.now().toISOString() }))
    .where('id', '=', key.keyId)
    .where('account_id', '=', key.accountId)
    .execute();
}

/**
 * Spends one use of an enrollment key inside the caller's (runner enrollment)
 * transaction. Null when the secret is malformed, unknown, revoked, expired or
 * used up, or its account is gone; callers answer every null with the same 401.
 */
export async function consumeEnrollmentKey(
  trx: Tx,
  secret: string,
  clock: Clock,
): Promise<EnrollmentGrant | null> {
  const key = await lockEnrollmentKey(trx, secret, clock);
  if (!key || key.exhausted) return null;
  await spendEnrollmentKeyUse(trx, key, clock);
  return { keyId: key.keyId, accountId: key.accountId, pinnedGroup: key.pinnedGroup };
}
