import type { AccountQueries } from '../accounts/index.js';
import type { AuditEventInput } from '../audit/index.js';
import type { AuthQueries, SignInService } from '../auth/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AccountAccess, MembershipRow } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors.js';
import type { PackAccess, Role, RunnerAccess } from '../core/roles.js';
import type { Db, Tx } from '../core/tx.js';
import type { MailOutbox } from '../mail/index.js';

/**
 * Revokes the live API keys a membership minted in its workspace; returns them.
 * API keys live above members: credentials implements it, app.ts passes it in.
 */
export type RevokeMemberKeys = (
  trx: Tx,
  accountId: string,
  membershipId: string,
  now: string,
) => Promise<{ id: string; name: string }[]>;

export interface MemberDeps {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  outbox: Pick<MailOutbox, 'enqueue' | 'kick'>;
  baseUrl: string;
  signIn: Pick<SignInService, 'startSession'>;
  accounts: Pick<AccountQueries, 'lockAccount' | 'findLiveAccountById'>;
  auth: Pick<
    AuthQueries,
    | 'findUserById'
    | 'findOrCreateUser'
    | 'usersByIds'
    | 'markUserConfirmed'
    | 'revokeSessions'
    | 'removeSecondFactors'
  >;
  revokeMemberKeys: RevokeMemberKeys;
}

export interface MemberView {
  id: string;
  user_id: string;
  email: string;
  full_name: string | null;
  role: Role;
  accepted_at: string | null;
  suspended_at: string | null;
  last_active_at: string | null;
  runner_access: RunnerAccess;
  pack_access: PackAccess;
  invitation_expires_at: string | null;
  created_at: string;
}

export const cannotEditSelf = () =>
  new ForbiddenError(
    'Nobody changes their own role or access; ask another admin.',
    'cannot_edit_self',
  );
export const ownersOnly = () => new ForbiddenError('Only owners change owners.', 'owners_only');
export const lastOwner = () =>
  new ConflictError('The last owner cannot be demoted, suspended or removed.', 'last_owner');

/** A workspace's memberships not removed, oldest first: joined ones or pending invitations. */
function membershipsOf(db: Db, accountId: string) {
  return db
    .selectFrom('memberships')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at');
}

/** Memberships as the team screens show them, with each person's address and name. */
export async function memberViews(
  deps: Pick<MemberDeps, 'db' | 'auth'>,
  accountId: string,
  which: { joined: boolean } | { id: string },
): Promise<MemberView[]> {
  let query = membershipsOf(deps.db, accountId);
  query =
    'id' in which
      ? query.where('id', '=', which.id)
      : query.where('accepted_at', which.joined ? 'is not' : 'is', null);
  const memberships = await query.execute();
  const people = await deps.auth.usersByIds(deps.db, [
    ...new Set(memberships.map((m) => m.user_id)),
  ]);
  return memberships.map((m) => {
    const person = people.find((p) => p.id === m.user_id)!;
    return {
      id: m.id,
      user_id: m.user_id,
      email: person.email,
      // A pending invitee's name would tell the inviter the address already has an account.
      full_name: m.accepted_at === null ? null : person.full_name,
      role: m.role,
      accepted_at: m.accepted_at,
      suspended_at: m.suspended_at,
      last_active_at: m.last_active_at,
      runner_access: m.runner_access,
      pack_access: m.pack_access,
      invitation_expires_at: m.invitation_expires_at,
      created_at: m.created_at,
    };
  });
}

/** One membership's view (after a change), not removed. */
export async function memberView(
  deps: Pick<MemberDeps, 'db' | 'auth'>,
  accountId: string,
  id: string,
): Promise<MemberView> {
  const [view] = await memberViews(deps, accountId, { id });
  if (!view) throw new NotFoundError();
  return view;
}

/** Locks the account's membership set, so last-owner checks cannot race. */
export async function lockTarget(
  trx: Tx,
  deps: Pick<MemberDeps, 'accounts'>,
  access: AccountAccess,
  membershipId: string,
): Promise<MembershipRow> {
  await deps.accounts.lockAccount(trx, access.account.id);
  const target = await trx
    .selectFrom('memberships')
    .selectAll()
    .where('id', '=', membershipId)
    .where('account_id', '=', access.account.id)
    .where('deleted_at', 'is', null)
    .where('accepted_at', 'is not', null)
    .executeTakeFirst();
  if (!target) throw new NotFoundError();
  return target;
}

export async function otherActiveOwners(trx: Tx, accountId: string, exceptId: string) {
  const rows = await trx
    .selectFrom('memberships')
    .select('id')
    .where('account_id', '=', accountId)
    .where('role', '=', 'owner')
    .where('id', '!=', exceptId)
    .where('deleted_at', 'is', null)
    .where('suspended_at', 'is', null)
    .where('accepted_at', 'is not', null)
    .execute();
  return rows.length;
}

/** Refuses the last active owner's demotion, suspension or removal. */
export async function keepAnOwner(trx: Tx, access: AccountAccess, target: MembershipRow) {
  if (target.role === 'owner' && !(await otherActiveOwners(trx, access.account.id, target.id))) {
    throw lastOwner();
  }
}

export function checkMayTouch(access: AccountAccess, target: MembershipRow) {
  if (target.id === access.membership.id) throw cannotEditSelf();
  if (target.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
}

export function membershipEvent(
  access: AccountAccess,
  eventType: string,
  target: { id: string; email: string },
  context: RequestContext,
  payload?: AuditEventInput['payload'],
): AuditEventInput {
  return {
    accountId: access.account.id,
    eventType,
    actor: access.actor,
    target: { kind: 'membership', id: target.id, label: target.email },
    ...(payload ? { payload } : {}),
    context,
  };
}

/** On commit, every node re-checks the event streams this member has open. */
export function announceMemberChange(
  bus: NotifyBus,
  trx: Tx,
  access: AccountAccess,
  membershipId: string,
) {
  return publishAccountEvent(bus, trx, {
    accountId: access.account.id,
    kind: 'member',
    id: membershipId,
  });
}

export async function emailOf(deps: Pick<MemberDeps, 'auth'>, trx: Tx, userId: string) {
  return (await deps.auth.findUserById(trx, userId))!.email;
}
