import { type AuditEventInput, recordAuditEvent, recordAuditEvents } from '../audit/index.js';
import type { AccountAccess, MembershipRow } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, ForbiddenError } from '../core/errors.js';
import {
  holdsEveryPermissionOf,
  type PackAccess,
  packAccessCovers,
  type Role,
  type RunnerAccess,
  runnerAccessCovers,
} from '../core/roles.js';
import type { Tx } from '../core/tx.js';
import {
  announceMemberChange,
  checkMayTouch,
  emailOf,
  keepAnOwner,
  lockTarget,
  type MemberDeps,
  type MemberView,
  membershipEvent,
  memberView,
  memberViews,
  ownersOnly,
} from './member-support.js';

export interface MemberChange {
  role?: Role;
  runner_access?: RunnerAccess;
  pack_access?: PackAccess;
}

/** Checks a change against what the acting member may grant; returns its audit events. */
async function checkChange(
  trx: Tx,
  access: AccountAccess,
  target: MembershipRow & { email: string },
  change: MemberChange,
  context: RequestContext,
): Promise<AuditEventInput[]> {
  const events: AuditEventInput[] = [];
  if (change.role && change.role !== target.role) {
    if (change.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
    if (!holdsEveryPermissionOf(access.permissions, change.role)) {
      throw new ForbiddenError('You can only grant a role whose permissions you hold.');
    }
    await keepAnOwner(trx, access, target);
    events.push(
      membershipEvent(access, 'membership.role_changed', target, context, {
        from: target.role,
        to: change.role,
      }),
    );
  }
  const { runner_access: runners, pack_access: packs } = change;
  if (runners && !runnerAccessCovers(access.membership.runner_access, runners)) {
    throw new ForbiddenError('You can only grant runner access you hold yourself.');
  }
  if (packs && !packAccessCovers(access.membership.pack_access, packs)) {
    throw new ForbiddenError('You can only grant pack access you hold yourself.');
  }
  if (runners || packs) {
    events.push(
      membershipEvent(access, 'membership.access_changed', target, context, {
        from: { runner_access: target.runner_access, pack_access: target.pack_access },
        to: {
          runner_access: runners ?? target.runner_access,
          pack_access: packs ?? target.pack_access,
        },
      } as AuditEventInput['payload']),
    );
  }
  return events;
}

/** Roles, access, suspension, credential resets and removal: a factory of short methods. */
export function createTeamService(deps: MemberDeps) {
  const { db, clock, bus } = deps;

  return {
    list: (access: AccountAccess): Promise<MemberView[]> =>
      memberViews(deps, access.account.id, { joined: true }),

    async update(
      access: AccountAccess,
      membershipId: string,
      change: MemberChange,
      context: RequestContext,
    ): Promise<MemberView> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, deps, access, membershipId);
        checkMayTouch(access, target);
        const email = await emailOf(deps, trx, target.user_id);
        const events = await checkChange(trx, access, { ...target, email }, change, context);
        await trx
          .updateTable('memberships')
          .set({
            ...(change.role ? { role: change.role } : {}),
            ...(change.runner_access
              ? { runner_access: JSON.stringify(change.runner_access) }
              : {}),
            ...(change.pack_access ? { pack_access: JSON.stringify(change.pack_access) } : {}),
          })
          .where('id', '=', target.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await announceMemberChange(bus, trx, access, target.id);
        await recordAuditEvents(trx, events);
      });
      return memberView(deps, access.account.id, membershipId);
    },

    async setSuspended(
      access: AccountAccess,
      membershipId: string,
      suspended: boolean,
      context: RequestContext,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, deps, access, membershipId);
        checkMayTouch(access, target);
        if (suspended) await keepAnOwner(trx, access, target);
        if (Boolean(target.suspended_at) === suspended) return;
        await trx
          .updateTable('memberships')
          .set({ suspended_at: suspended ? clock.now().toISOString() : null })
          .where('id', '=', target.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await announceMemberChange(bus, trx, access, target.id);
        const email = await emailOf(deps, trx, target.user_id);
        const eventType = suspended ? 'membership.suspended' : 'membership.unsuspended';
        await recordAuditEvent(
          trx,
          membershipEvent(access, eventType, { id: target.id, email }, context),
        );
      });
    },

    /**
     * Ends every session of a member, or removes their second factors (TOTP,
     * recovery codes, passkeys) so they can enrol again. People are global, so
     * this is refused when the member also belongs to another workspace: one
     * workspace's admin must not weaken another's.
     */
    async resetCredentials(
      access: AccountAccess,
      membershipId: string,
      what: 'sessions' | 'mfa',
      context: RequestContext,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, deps, access, membershipId);
        checkMayTouch(access, target);
        const elsewhere = await trx
          .selectFrom('memberships')
          .select('id')
          .where('user_id', '=', target.user_id)
          .where('account_id', '!=', access.account.id)
          .where('deleted_at', 'is', null)
          .limit(1)
          .execute();
        if (elsewhere.length) {
          throw new ConflictError(
            'This person also belongs to another workspace; they manage their own sessions and MFA.',
            'member_of_other_workspaces',
          );
        }
        if (what === 'sessions') {
          await deps.auth.revokeSessions(trx, target.user_id, clock);
          await announceMemberChange(bus, trx, access, target.id);
        } else {
          await deps.auth.removeSecondFactors(trx, target.user_id);
        }
        const email = await emailOf(deps, trx, target.user_id);
        const eventType =
          what === 'sessions' ? 'membership.sessions_ended' : 'membership.mfa_reset';
        await recordAuditEvent(
          trx,
          membershipEvent(access, eventType, { id: target.id, email }, context),
        );
      });
    },

    /** Removes the member and revokes the mcp keys they minted in this account. */
    async remove(
      access: AccountAccess,
      membershipId: string,
      context: RequestContext,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, deps, access, membershipId);
        if (target.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
        await keepAnOwner(trx, access, target);
        const now = clock.now().toISOString();
        await trx
          .updateTable('memberships')
          .set({ deleted_at: now })
          .where('id', '=', target.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await announceMemberChange(bus, trx, access, target.id);
        const keys = await deps.revokeMemberKeys(trx, access.account.id, target.id, now);
        const email = await emailOf(deps, trx, target.user_id);
        await recordAuditEvents(trx, [
          membershipEvent(access, 'membership.removed', { id: target.id, email }, context, {
            role: target.role,
          }),
          ...keys.map((key) => ({
            accountId: access.account.id,
            eventType: 'api_key.revoked',
            actor: access.actor,
            target: { kind: 'api_key', id: key.id, label: key.name },
            payload: { reason: 'membership_removed' },
            context,
          })),
        ]);
      });
    },
  };
}
