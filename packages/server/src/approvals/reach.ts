import type { SelectQueryBuilder } from 'kysely';
import type { AccountAccess } from '../core/access.js';
import {
  type PackAccess,
  packInReach,
  ROLE_PERMISSIONS,
  ROLES,
  type RunnerAccess,
  runnerInReach,
} from '../core/roles.js';
import type { Db } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { ApprovalsContext } from './context.js';

/** What reach is judged on: the target runner (and its group) and the pack. */
export interface ApprovalTarget {
  runner_id: string;
  runner_group: string | null;
  pack_id: string;
}

const DECIDING_ROLES = ROLES.filter((role) => ROLE_PERMISSIONS[role].has('approvals.decide'));

export function targetInReach(
  access: { runner_access: RunnerAccess; pack_access: PackAccess },
  target: ApprovalTarget,
): boolean {
  return (
    runnerInReach(access.runner_access, {
      id: target.runner_id,
      // A group never matches when unknown: only a runner-id grant or full access reaches it.
      group: target.runner_group ?? '\u0000',
    }) && packInReach(access.pack_access, target.pack_id)
  );
}

/**
 * Who may decide (and so see) a request: the permission and reach covering
 * its runner and pack. The requester also sees their own request.
 */
export function maySee(access: AccountAccess, request: ApprovalTarget & RequesterOf): boolean {
  return isRequester(access, request) || mayDecide(access, request);
}

export function mayDecide(access: AccountAccess, target: ApprovalTarget): boolean {
  return access.permissions.has('approvals.decide') && targetInReach(access.membership, target);
}

interface RequesterOf {
  requested_by_user_id: string | null;
}

export function isRequester(access: AccountAccess, request: RequesterOf): boolean {
  return request.requested_by_user_id === access.membership.user_id;
}

/** Narrows a query over `approval_requests` to what the caller may see, in SQL. */
export function visibleTo<O>(
  query: SelectQueryBuilder<Database, 'approval_requests', O>,
  access: AccountAccess,
): SelectQueryBuilder<Database, 'approval_requests', O> {
  const self = access.membership.user_id;
  const runners = access.membership.runner_access;
  const packs = access.membership.pack_access;
  if (!access.permissions.has('approvals.decide') || runners.mode === 'none') {
    return query.where('requested_by_user_id', '=', self);
  }
  return query.where((eb) => {
    const reach = [];
    if (runners.mode === 'restricted') {
      const byRunner = [];
      if (runners.groups.length) byRunner.push(eb('runner_group', 'in', runners.groups));
      if (runners.runner_ids.length) byRunner.push(eb('runner_id', 'in', runners.runner_ids));
      reach.push(byRunner.length ? eb.or(byRunner) : eb.val(false));
    }
    if (packs.mode === 'restricted') {
      reach.push(packs.pack_ids.length ? eb('pack_id', 'in', packs.pack_ids) : eb.val(false));
    }
    if (reach.length === 0) return eb.val(true);
    return eb.or([eb('requested_by_user_id', '=', self), eb.and(reach)]);
  });
}

/**
 * Members who could decide a request, with their email, except the requester;
 * ordered by email.
 */
export async function decidersOf(
  deps: Pick<ApprovalsContext, 'members' | 'auth'>,
  db: Db,
  target: ApprovalTarget & { account_id: string },
  exceptUserId: string | null,
): Promise<{ userId: string; email: string }[]> {
  const members = await deps.members.activeMembersWithRoles(db, target.account_id, DECIDING_ROLES);
  const deciding = members.filter(
    (member) => member.user_id !== exceptUserId && targetInReach(member, target),
  );
  const users = await deps.auth.usersByIds(
    db,
    deciding.map((member) => member.user_id),
  );
  return users
    .map((user) => ({ userId: user.id, email: user.email }))
    .sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
}
