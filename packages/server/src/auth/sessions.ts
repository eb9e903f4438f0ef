import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { type AuthMethod, SESSION_LIFETIME_MS, type SessionPrincipal } from '../core/principal.js';
import { mintSecret, SECRET_PREFIX, sha256 } from '../core/secrets.js';
import type { Db } from '../core/tx.js';
import type { Database } from '../db/schema.js';

const LAST_SEEN_GRANULARITY_MS = 60_000;

export interface NewSession {
  userId: string;
  method: AuthMethod;
  /** The sign-in itself proved a second factor (e.g. a passkey). */
  mfaVerified: boolean;
  context: RequestContext;
}

/** Creates a session row and returns its opaque token (for the cookie only). */
export async function createSession(
  trx: Kysely<Database>,
  input: NewSession,
  clock: Clock,
): Promise<{ id: string; token: string }> {
  const now = clock.now();
  const minted = mintSecret(SECRET_PREFIX.session);
  const row = await trx
    .insertInto('sessions')
    .values({
      user_id: input.userId,
      token_digest: minted.digest,
      auth_method: input.method,
      ip_address: input.context.ip || null,
      user_agent: input.context.userAgent,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      authenticated_at: now.toISOString(),
      mfa_verified_at: input.mfaVerified ? now.toISOString() : null,
      expires_at: new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .updateTable('users')
    .set({ last_sign_in_at: now.toISOString() })
    .where('id', '=', input.userId)
    .execute();
  return { id: row.id, token: minted.secret };
}

/** The signed-in person for a session token, or null (unknown, expired, revoked). */
export async function resolveSession(
  db: Kysely<Database>,
  token: string,
  clock: Clock,
): Promise<SessionPrincipal | null> {
  const now = clock.now();
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id',
      's.auth_method',
      's.authenticated_at',
      's.mfa_verified_at',
      's.expires_at',
      's.revoked_at',
      's.last_seen_at',
      'u.email',
      'u.mfa_enabled_at',
    ])
    .where('s.token_digest', '=', sha256(token))
    .executeTakeFirst();
  if (!row || row.revoked_at || new Date(row.expires_at) <= now) return null;
  const seenBefore = new Date(now.getTime() - LAST_SEEN_GRANULARITY_MS).toISOString();
  if (row.last_seen_at <= seenBefore) {
    await db
      .updateTable('sessions')
      .set({ last_seen_at: now.toISOString() })
      .where('id', '=', row.id)
      .execute();
  }
  const mfaVerified = Boolean(
    row.mfa_enabled_at && row.mfa_verified_at && row.mfa_verified_at >= row.mfa_enabled_at,
  );
  return {
    kind: 'session',
    userId: row.user_id,
    email: row.email,
    sessionId: row.id,
    authMethod: row.auth_method,
    authenticatedAt: row.authenticated_at,
    mfaVerified,
    mfaSatisfied: !row.mfa_enabled_at || mfaVerified,
  };
}

export async function markSessionMfaVerified(
  trx: Kysely<Database>,
  sessionId: string,
  clock: Clock,
): Promise<void> {
  const now = clock.now().toISOString();
  await trx
    .updateTable('sessions')
    .set({ mfa_verified_at: now, authenticated_at: now })
    .where('id', '=', sessionId)
    .execute();
}

export async function revokeSessions(
  trx: Db,
  userId: string,
  clock: Clock,
  options: { except?: string; only?: string } = {},
): Promise<number> {
  let query = trx
    .updateTable('sessions')
    .set({ revoked_at: clock.now().toISOString() })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (options.except) query = query.where('id', '!=', options.except);
  if (options.only) query = query.where('id', '=', options.only);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function listSessions(db: Kysely<Database>, userId: string, clock: Clock) {
  return db
    .selectFrom('sessions')
    .select([
      'id',
      'auth_method',
      'ip_address',
      'user_agent',
      'created_at',
      'last_seen_at',
      'mfa_verified_at',
      'expires_at',
    ])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now().toISOString())
    .orderBy('last_seen_at', 'desc')
    .execute();
}

/** Deciding high-risk approvals needs a sign-in (or re-authentication) this recent. */
export const REAUTH_WINDOW_MS = 15 * 60_000;

export function recentlyAuthenticated(
  session: Pick<SessionPrincipal, 'authenticatedAt'>,
  clock: Clock,
  windowMs: number = REAUTH_WINDOW_MS,
): boolean {
  return clock.now().getTime() - new Date(session.authenticatedAt).getTime() <= windowMs;
}

/** Records a fresh proof of identity on the session (re-authentication). */
export async function markSessionAuthenticated(
  trx: Kysely<Database>,
  sessionId: string,
  clock: Clock,
): Promise<void> {
  await trx
    .updateTable('sessions')
    .set({ authenticated_at: clock.now().toISOString() })
    .where('id', '=', sessionId)
    .execute();
}

/** Whether a session is still live: not revoked, not expired. */
export async function isSessionLive(db: Db, sessionId: string, now: string): Promise<boolean> {
  const row = await db
    .selectFrom('sessions')
    .select('id')
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}
