import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { accountIsUsable, findAccountById } from '../accounts/index.js';
import type { Clock } from '../core/clock.js';
import type { ApiKeyKind, ApiKeyPrincipal } from '../core/principal.js';
import { findBySecret, mintSecret, SECRET_PREFIX } from '../core/secrets.js';
import type { Db, Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import { findMembershipById } from '../members/index.js';

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

/** An mcp key acts only while its membership is joined, not removed and not suspended. */
async function actsForJoinedMember(db: Db, membershipId: string | null): Promise<boolean> {
  const membership = membershipId ? await findMembershipById(db, membershipId) : undefined;
  return Boolean(membership?.accepted_at && !membership.deleted_at && !membership.suspended_at);
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
    db.selectFrom('api_keys').selectAll().where('lookup', '=', lookup).executeTakeFirst(),
  );
  if (!row) return null;
  const now = clock.now();
  if (row.revoked_at || (row.expires_at && new Date(row.expires_at) <= now)) return null;
  const account = await findAccountById(db, row.account_id);
  if (!account || !accountIsUsable(account)) return null;
  if (row.kind === 'mcp' && !(await actsForJoinedMember(db, row.membership_id))) return null;
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

/** Whether a key is still live: not revoked, not expired. */
export async function isApiKeyLive(
  db: Db,
  key: { id: string; accountId: string },
  now: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('api_keys')
    .select('id')
    .where('id', '=', key.id)
    .where('account_id', '=', key.accountId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
  return row !== undefined;
}

/** Revokes the live keys a membership minted in its workspace (the member left). */
export function revokeMembershipKeys(
  trx: Tx,
  accountId: string,
  membershipId: string,
  now: string,
): Promise<{ id: string; name: string }[]> {
  return trx
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('account_id', '=', accountId)
    .where('membership_id', '=', membershipId)
    .where('revoked_at', 'is', null)
    .returning(['id', 'name'])
    .execute();
}

/** The lineage an API key belongs to (a rotation keeps it); null for an unknown key. */
export async function apiKeyLineage(
  db: Db,
  accountId: string,
  keyId: string,
): Promise<string | null> {
  const row = await db
    .selectFrom('api_keys')
    .select('lineage_id')
    .where('id', '=', keyId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row?.lineage_id ?? null;
}

/** The memberships holding a live key (not revoked, not expired) of this lineage. */
export async function liveLineageKeyHolders(
  db: Db,
  accountId: string,
  lineageId: string,
  now: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select('membership_id')
    .where('account_id', '=', accountId)
    .where('lineage_id', '=', lineageId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
  return rows.flatMap((row) => (row.membership_id ? [row.membership_id] : []));
}

/** Every key of a lineage (live or not): what the lineage created carries one of these ids. */
export async function lineageKeyIds(
  db: Db,
  accountId: string,
  lineageId: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select('id')
    .where('account_id', '=', accountId)
    .where('lineage_id', '=', lineageId)
    .execute();
  return rows.map((row) => row.id);
}
