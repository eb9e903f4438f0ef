import { findLiveAccountBySlug } from '../accounts/index.js';
import { findUserById, isSessionLive } from '../auth/index.js';
import type { AccountAccess } from '../core/access.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import type { KeyPrincipal, SessionPrincipal } from '../core/principal.js';
import { API_KEY_PERMISSIONS, ROLE_PERMISSIONS } from '../core/roles.js';
import type { Db } from '../core/tx.js';
import { isApiKeyLive } from '../credentials/index.js';
import { findJoinedMembership, touchLastActive } from '../members/index.js';

/**
 * Resolves the caller's access to the account named by `slug`. Anything the
 * caller cannot see — no such account, another tenant, no live membership —
 * is the same 404.
 */
export async function resolveAccountAccess(
  db: Db,
  principal: SessionPrincipal | KeyPrincipal,
  slug: string,
  clock: Clock,
): Promise<AccountAccess> {
  if (principal.kind === 'api_key' && principal.key.kind !== 'mcp') {
    throw new ForbiddenError('This key only reads the audit export.', 'wrong_key_kind');
  }
  const account = await findLiveAccountBySlug(db, slug);
  if (!account) throw new NotFoundError();
  if (principal.kind === 'api_key' && principal.key.accountId !== account.id) {
    throw new NotFoundError();
  }
  const membership = await findJoinedMembership(
    db,
    account.id,
    principal.kind === 'session'
      ? { userId: principal.userId }
      : { membershipId: principal.key.membershipId! },
  );
  if (!membership) throw new NotFoundError();
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
  if (principal.kind === 'session') {
    const actor: AuditActor = { kind: 'user', id: principal.userId, label: principal.email };
    return { account, membership, permissions: rolePermissions, principal, actor };
  }
  const permissions = new Set([...rolePermissions].filter((p) => API_KEY_PERMISSIONS.has(p)));
  const member = await findUserById(db, membership.user_id);
  const actor: AuditActor = { kind: 'api_key', id: principal.key.keyId, label: member!.email };
  return { account, membership, permissions, principal, actor };
}

/**
 * The caller's access as it stands now, for work that outlives its request (an
 * event stream): the session or API key must still be live, then every check
 * of resolveAccountAccess runs again. Throws as they do once access is gone.
 */
export async function refreshAccountAccess(
  db: Db,
  access: AccountAccess,
  clock: Clock,
): Promise<AccountAccess> {
  const { principal } = access;
  if (principal.kind === 'operator') return access;
  const now = clock.now().toISOString();
  const live =
    principal.kind === 'session'
      ? await isSessionLive(db, principal.sessionId, now)
      : await isApiKeyLive(db, { id: principal.key.keyId, accountId: access.account.id }, now);
  if (!live) throw new UnauthorizedError();
  return resolveAccountAccess(db, principal, access.account.slug, clock);
}
