import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AuditActor } from './actor.js';
import { ForbiddenError } from './errors.js';
import type { KeyPrincipal, OperatorPrincipal, SessionPrincipal } from './principal.js';
import { API_KEY_PERMISSIONS, type Permission } from './roles.js';

export type AccountRow = Selectable<Database['accounts']>;
export type MembershipRow = Selectable<Database['memberships']>;

/** Who is acting in an account, with what: the answer every account-scoped route starts from. */
export interface AccountAccess {
  account: AccountRow;
  /** The acting membership (for an mcp key: the member it acts as). */
  membership: MembershipRow;
  permissions: ReadonlySet<Permission>;
  principal: SessionPrincipal | KeyPrincipal | OperatorPrincipal;
  actor: AuditActor;
}

/** Resolves a caller's access to the workspace a slug names; 404 for anything they cannot see. */
export type ResolveAccountAccess = (
  principal: SessionPrincipal | KeyPrincipal,
  slug: string,
) => Promise<AccountAccess>;

export function requirePermission(access: AccountAccess, permission: Permission): void {
  if (access.permissions.has(permission)) return;
  if (access.principal.kind === 'api_key' && !API_KEY_PERMISSIONS.has(permission)) {
    throw keyKindCannot(access.principal);
  }
  throw new ForbiddenError('Your role does not allow this.', 'forbidden');
}

/** What a person may do but no API key of this kind can, whatever its member's role. */
export function keyKindCannot(principal: KeyPrincipal): ForbiddenError {
  return new ForbiddenError(
    `An ${principal.key.kind} API key cannot do this: only a signed-in person can (in the console).`,
    'forbidden',
  );
}
