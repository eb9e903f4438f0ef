import type { Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AuditActor } from './actor.js';
import { ForbiddenError } from './errors.js';
import type { KeyPrincipal, SessionPrincipal } from './principal.js';
import type { Permission } from './roles.js';

export type AccountRow = Selectable<Database['accounts']>;
export type MembershipRow = Selectable<Database['memberships']>;

/** Who is acting in an account, with what: the answer every account-scoped route starts from. */
export interface AccountAccess {
  account: AccountRow;
  /** The acting membership (for an mcp key: the member it acts as). */
  membership: MembershipRow;
  permissions: ReadonlySet<Permission>;
  principal: SessionPrincipal | KeyPrincipal;
  actor: AuditActor;
}

/** Resolves a caller's access to the workspace a slug names; 404 for anything they cannot see. */
export type ResolveAccountAccess = (
  principal: SessionPrincipal | KeyPrincipal,
  slug: string,
) => Promise<AccountAccess>;

export function requirePermission(access: AccountAccess, permission: Permission): void {
  if (!access.permissions.has(permission)) {
    throw new ForbiddenError('Your role does not allow this.', 'forbidden');
  }
}
