import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { ApiKeyKind, ApiKeyPrincipal } from '../core/principal.js';
import { findBySecret, mintSecret, SECRET_PREFIX } from '../core/secrets.js';
import type { Database } from '../db/schema.js';

export const MCP_KEY_DEFAULT_TTL_DAYS = 30;
const DAY_MS = 86_400_000;
const LAST_USED_GRANULARITY_MS = 60_000;

export interface CreateApiKeyInput {
  accountId: string;
  kind: ApiKeyKind;
  /** Required for `mcp`, absent for `audit_export` (owned by the account). */
  membershipId: string | null;
  name: string;
  createdBy: string | null;
  /** Default: 30 days for mcp, never for audit_export. `null` = never. */
  expiresAt?: Date | null;
  /** Set when rotating: the new key continues the old key's lineage. */
  rotatedFrom?: { id: string; lineageId: string };
}

export interface CreatedApiKey {
  id: string;
  lineageId: string;
  /** The bearer secret: return it to the caller once, never store or log it. */
  secret: string;
  expiresAt: string | null;
}

/** Inserts a key (inside the caller's transaction) and returns its secret once. */
export async function createApiKey(
  trx: Kysely<Database>,
  input: CreateApiKeyInput,
  clock: Clock,
): Promise<CreatedApiKey> {
  if (input.kind === 'mcp' && !input.membershipId) {
    throw new Error('an mcp key needs the membership it acts as');
  }
  if (input.kind === 'audit_export' && input.membershipId) {
    throw new Error('an audit_export key belongs to the account, not a member');
  }
  const defaultExpiry =
    input.kind === 'mcp'
      ? new Date(clock.now().getTime() + MCP_KEY_DEFAULT_TTL_DAYS * DAY_MS)
      : null;
  const expiresAt = input.expiresAt === undefined ? defaultExpiry : input.expiresAt;
  const minted = mintSecret(SECRET_PREFIX.apiKey);
  const lineageId = input.rotatedFrom?.lineageId ?? randomUUID();
  const row = await trx
    .insertInto('api_keys')
    .values({
      account_id: input.accountId,
      kind: input.kind,
      membership_id: input.membershipId,
      name: input.name,
      lookup: minted.lookup,
      digest: minted.digest,
      lineage_id: lineageId,
      rotated_from_id: input.rotatedFrom?.id ?? null,
      created_by: input.createdBy,
      expires_at: expiresAt ? expiresAt.toISOString() : null,
      created_at: clock.now().toISOString(),
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, lineageId, secret: minted.secret, expiresAt: row.expires_at };
}

/**
 * The principal for a presented bearer secret, or null when it is malformed,
 * unknown, revoked, expired, its account is disabled or deleted, or (mcp) its
 * membership is gone or suspended. Callers answer every null with the same 401.
 */
export async function authenticateApiKey(
  db: Kysely<Database>,
  bearerSecret: string,
  clock: Clock,
): Promise<ApiKeyPrincipal | null> {
  const row = await findBySecret(bearerSecret, SECRET_PREFIX.apiKey, (lookup) =>
    db
      .selectFrom('api_keys as k')
      .innerJoin('accounts as a', 'a.id', 'k.account_id')
      .leftJoin('memberships as m', 'm.id', 'k.membership_id')
      .select([
        'k.id',
        'k.kind',
        'k.account_id',
        'k.lineage_id',
        'k.membership_id',
        'k.digest',
        'k.expires_at',
        'k.revoked_at',
        'k.last_used_at',
        'a.disabled_at',
        'a.deleted_at',
        'a.deletion_requested_at',
        'm.deleted_at as membership_deleted_at',
        'm.suspended_at as membership_suspended_at',
        'm.accepted_at as membership_accepted_at',
      ])
      .where('k.lookup', '=', lookup)
      .executeTakeFirst(),
  );
  if (!row) return null;
  const now = clock.now();
  if (row.revoked_at || (row.expires_at && new Date(row.expires_at) <= now)) return null;
  if (row.disabled_at || row.deleted_at || row.deletion_requested_at) return null;
  if (
    row.kind === 'mcp' &&
    (!row.membership_id ||
      row.membership_deleted_at ||
      row.membership_suspended_at ||
      !row.membership_accepted_at)
  ) {
    return null;
  }
  const usedBefore = new Date(now.getTime() - LAST_USED_GRANULARITY_MS).toISOString();
  if (!row.last_used_at || row.last_used_at <= usedBefore) {
    await db
      .updateTable('api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', row.id)
      .where('account_id', '=', row.account_id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', usedBefore)]))
      .execute();
  }
  return {
    keyId: row.id,
    kind: row.kind,
    accountId: row.account_id,
    lineageId: row.lineage_id,
    membershipId: row.membership_id,
  };
}
