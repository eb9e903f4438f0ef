import type { Kysely } from 'kysely';
import { findLiveAccountBySlug } from '../accounts/queries.js';
import type { AccountAccess, MembershipRow } from '../core/access.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import type { KeyPrincipal, SessionPrincipal } from '../core/principal.js';
import { API_KEY_PERMISSIONS, ROLE_PERMISSIONS } from '../core/roles.js';
import type { Database } from '../db/schema.js';

const LAST_ACTIVE_GRANULARITY_MS = 60_000;

/**
 * Resolves the caller's access to the account named by `slug`. Anything the
 * caller cannot see — no such account, another tenant, no live membership —
 * is the same 404.
 */
export async function resolveAccountAccess(
  db: Kysely<Database>,
  principal: SessionPrincipal | KeyPrincipal,
  slug: string,
  clock: Clock,
): Promise<AccountAccess> {
  if (principal.kind === 'api_key' && principal.key.kind !== 'mcp') {
    throw new ForbiddenError('This key only reads the audit export.', 'wrong_key_kind');
  }
  const account = await findLiveAccountBySlug(db, slug);
  if (!account) throw new NotFoundError();
  let query = db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .selectAll('m')
    .select('u.email')
    .where('m.account_id', '=', account.id)
    .where('m.deleted_at', 'is', null)
    .where('m.accepted_at', 'is not', null);
  query =
    principal.kind === 'session'
      ? query.where('m.user_id', '=', principal.userId)
      : query.where('m.id', '=', principal.key.membershipId!);
  if (principal.kind === 'api_key' && principal.key.accountId !== account.id) {
    throw new NotFoundError();
  }
  const row = await query.executeTakeFirst();
  if (!row) throw new NotFoundError();
  const { email, ...membership } = row;
  if (membership.suspended_at) {
    throw new ForbiddenError('Your membership of this workspace is suspended.', 'suspended');
  }
  if (account.disabled_at)
    throw new ForbiddenError('This workspace is disabled.', 'account_disabled');

  if (principal.kind === 'session') {
    if (account.settings.require_mfa && !principal.mfaVerified) {
      throw new ForbiddenError(
        'This workspace requires multi-factor authentication: set up an authenticator app or passkey first.',
        'mfa_required',
      );
    }
    await touchLastActive(db, membership, clock);
  }

  const rolePermissions = ROLE_PERMISSIONS[membership.role];
  const permissions =
    principal.kind === 'session'
      ? rolePermissions
      : new Set([...rolePermissions].filter((p) => API_KEY_PERMISSIONS.has(p)));
  const actor: AuditActor =
    principal.kind === 'session'
      ? { kind: 'user', id: principal.userId, label: principal.email }
      : { kind: 'api_key', id: principal.key.keyId, label: email };
  return { account, membership, permissions, principal, actor };
}

/**
 * The caller's access as it stands now, for work that outlives its request (an
 * event stream): the session or API key must still be live, then every check
 * of resolveAccountAccess runs again. Throws as they do once access is gone.
 */
export async function refreshAccountAccess(
  db: Kysely<Database>,
  access: AccountAccess,
  clock: Clock,
): Promise<AccountAccess> {
  const { principal } = access;
  const now = clock.now().toISOString();
  const live =
    principal.kind === 'session'
      ? await db
          .selectFrom('sessions')
          .select('id')
          .where('id', '=', principal.sessionId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .executeTakeFirst()
      : await db
          .selectFrom('api_keys')
          .select('id')
          .where('id', '=', principal.key.keyId)
          .where('account_id', '=', access.account.id)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .executeTakeFirst();
  if (!live) throw new UnauthorizedError();
  return resolveAccountAccess(db, principal, access.account.slug, clock);
}

async function touchLastActive(db: Kysely<Database>, membership: MembershipRow, clock: Clock) {
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
