import { type Kysely, sql, type Transaction } from 'kysely';
import { type AuditEventInput, recordAuditEvent, recordAuditEvents } from '../audit/record.js';
import { removeTotp } from '../auth/mfa.js';
import { revokeSessions } from '../auth/sessions.js';
import type { SignInResult, SignInService } from '../auth/sign-in.js';
import { findOrCreateUser, findUserById } from '../auth/users.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AccountAccess, MembershipRow } from '../core/access.js';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import {
  FULL_PACK_ACCESS,
  holdsEveryPermissionOf,
  NO_RUNNER_ACCESS,
  type PackAccess,
  packAccessCovers,
  type Role,
  type RunnerAccess,
  runnerAccessCovers,
} from '../core/roles.js';
import { lookupOf, mintSecret, SECRET_PREFIX, secretMatches } from '../core/secrets.js';
import type { Database } from '../db/schema.js';
import type { MailOutbox } from '../mail/outbox.js';

export const INVITATION_TTL_MS = 7 * 86_400_000;

export interface MemberDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  outbox: Pick<MailOutbox, 'enqueue' | 'kick'>;
  baseUrl: string;
  signIn: Pick<SignInService, 'startSession'>;
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

export interface MemberChange {
  role?: Role;
  runner_access?: RunnerAccess;
  pack_access?: PackAccess;
}

const cannotEditSelf = () =>
  new ForbiddenError(
    'Nobody changes their own role or access; ask another admin.',
    'cannot_edit_self',
  );
const ownersOnly = () => new ForbiddenError('Only owners change owners.', 'owners_only');
const lastOwner = () =>
  new ConflictError('The last owner cannot be demoted, suspended or removed.', 'last_owner');

/** Team management: roles, access, suspension, removal and invitations. */
export function createMemberService(deps: MemberDeps) {
  const { db, clock, bus } = deps;

  /** On commit, every node re-checks the event streams this member has open. */
  const announce = (trx: Kysely<Database>, access: AccountAccess, membershipId: string) =>
    publishAccountEvent(bus, trx, {
      accountId: access.account.id,
      kind: 'member',
      id: membershipId,
    });

  function memberQuery(executor: Kysely<Database>, accountId: string) {
    return executor
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select([
        'm.id',
        'm.user_id',
        'u.email',
        // A pending invitee's name would tell the inviter the address already has an account.
        sql<string | null>`case when m.accepted_at is null then null else u.full_name end`.as(
          'full_name',
        ),
        'm.role',
        'm.accepted_at',
        'm.suspended_at',
        'm.last_active_at',
        'm.runner_access',
        'm.pack_access',
        'm.invitation_expires_at',
        'm.created_at',
      ])
      .where('m.account_id', '=', accountId)
      .where('m.deleted_at', 'is', null);
  }

  /** Locks the account's membership set, so last-owner checks cannot race. */
  async function lockTarget(
    trx: Transaction<Database>,
    access: AccountAccess,
    membershipId: string,
  ): Promise<MembershipRow> {
    await trx
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', access.account.id)
      .forUpdate()
      .execute();
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

  async function otherActiveOwners(trx: Kysely<Database>, accountId: string, exceptId: string) {
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

  function checkMayTouch(access: AccountAccess, target: MembershipRow) {
    if (target.id === access.membership.id) throw cannotEditSelf();
    if (target.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
  }

  const event = (
    access: AccountAccess,
    eventType: string,
    target: { id: string; email: string },
    context: RequestContext,
    payload?: AuditEventInput['payload'],
  ): AuditEventInput => ({
    accountId: access.account.id,
    eventType,
    actor: access.actor,
    target: { kind: 'membership', id: target.id, label: target.email },
    ...(payload ? { payload } : {}),
    context,
  });

  async function emailOf(trx: Kysely<Database>, userId: string) {
    return (await findUserById(trx, userId))!.email;
  }

  return {
    async list(access: AccountAccess): Promise<MemberView[]> {
      return memberQuery(db, access.account.id)
        .where('m.accepted_at', 'is not', null)
        .orderBy('m.created_at')
        .execute() as Promise<MemberView[]>;
    },

    async update(
      access: AccountAccess,
      membershipId: string,
      change: MemberChange,
      context: RequestContext,
    ): Promise<MemberView> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, access, membershipId);
        checkMayTouch(access, target);
        const events: AuditEventInput[] = [];
        const email = await emailOf(trx, target.user_id);
        if (change.role && change.role !== target.role) {
          if (change.role === 'owner' && !access.permissions.has('owners.manage'))
            throw ownersOnly();
          if (!holdsEveryPermissionOf(access.permissions, change.role)) {
            throw new ForbiddenError('You can only grant a role whose permissions you hold.');
          }
          if (
            target.role === 'owner' &&
            !(await otherActiveOwners(trx, access.account.id, target.id))
          ) {
            throw lastOwner();
          }
          events.push(
            event(access, 'membership.role_changed', { id: target.id, email }, context, {
              from: target.role,
              to: change.role,
            }),
          );
        }
        if (
          change.runner_access &&
          !runnerAccessCovers(access.membership.runner_access, change.runner_access)
        ) {
          throw new ForbiddenError('You can only grant runner access you hold yourself.');
        }
        if (
          change.pack_access &&
          !packAccessCovers(access.membership.pack_access, change.pack_access)
        ) {
          throw new ForbiddenError('You can only grant pack access you hold yourself.');
        }
        if (change.runner_access || change.pack_access) {
          events.push(
            event(access, 'membership.access_changed', { id: target.id, email }, context, {
              from: { runner_access: target.runner_access, pack_access: target.pack_access },
              to: {
                runner_access: change.runner_access ?? target.runner_access,
                pack_access: change.pack_access ?? target.pack_access,
              },
            } as AuditEventInput['payload']),
          );
        }
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
        await announce(trx, access, target.id);
        await recordAuditEvents(trx, events);
      });
      return (await memberQuery(db, access.account.id)
        .where('m.id', '=', membershipId)
        .executeTakeFirstOrThrow()) as MemberView;
    },

    async setSuspended(
      access: AccountAccess,
      membershipId: string,
      suspended: boolean,
      context: RequestContext,
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const target = await lockTarget(trx, access, membershipId);
        checkMayTouch(access, target);
        if (
          suspended &&
          target.role === 'owner' &&
          !(await otherActiveOwners(trx, access.account.id, target.id))
        ) {
          throw lastOwner();
        }
        if (Boolean(target.suspended_at) === suspended) return;
        await trx
          .updateTable('memberships')
          .set({ suspended_at: suspended ? clock.now().toISOString() : null })
          .where('id', '=', target.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await announce(trx, access, target.id);
        const email = await emailOf(trx, target.user_id);
        await recordAuditEvent(
          trx,
          event(
            access,
            suspended ? 'membership.suspended' : 'membership.unsuspended',
            { id: target.id, email },
            context,
          ),
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
        const target = await lockTarget(trx, access, membershipId);
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
          await revokeSessions(trx, target.user_id, clock);
          await announce(trx, access, target.id);
        } else {
          await removeTotp(trx, target.user_id);
          await trx.deleteFrom('passkeys').where('user_id', '=', target.user_id).execute();
          await trx
            .updateTable('users')
            .set({ mfa_enabled_at: null })
            .where('id', '=', target.user_id)
            .execute();
        }
        const email = await emailOf(trx, target.user_id);
        await recordAuditEvent(
          trx,
          event(
            access,
            what === 'sessions' ? 'membership.sessions_ended' : 'membership.mfa_reset',
            { id: target.id, email },
            context,
          ),
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
        const target = await lockTarget(trx, access, membershipId);
        if (target.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
        if (
          target.role === 'owner' &&
          !(await otherActiveOwners(trx, access.account.id, target.id))
        ) {
          throw lastOwner();
        }
        const now = clock.now().toISOString();
        await trx
          .updateTable('memberships')
          .set({ deleted_at: now })
          .where('id', '=', target.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await announce(trx, access, target.id);
        const keys = await trx
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('account_id', '=', access.account.id)
          .where('membership_id', '=', target.id)
          .where('revoked_at', 'is', null)
          .returning(['id', 'name'])
          .execute();
        const email = await emailOf(trx, target.user_id);
        await recordAuditEvents(trx, [
          event(access, 'membership.removed', { id: target.id, email }, context, {
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

    async listInvitations(access: AccountAccess): Promise<MemberView[]> {
      return memberQuery(db, access.account.id)
        .where('m.accepted_at', 'is', null)
        .orderBy('m.created_at')
        .execute() as Promise<MemberView[]>;
    },

    /** Invites (or re-invites) an address; invitees start with no runner access. */
    async invite(
      access: AccountAccess,
      input: { email: string; role: Role },
      context: RequestContext,
    ): Promise<MemberView> {
      if (input.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
      if (!holdsEveryPermissionOf(access.permissions, input.role)) {
        throw new ForbiddenError('You can only grant a role whose permissions you hold.');
      }
      const minted = mintSecret(SECRET_PREFIX.invitation);
      const expiresAt = new Date(clock.now().getTime() + INVITATION_TTL_MS).toISOString();
      const id = await db.transaction().execute(async (trx) => {
        const { user } = await findOrCreateUser(trx, input.email, null);
        const existing = await trx
          .selectFrom('memberships')
          .select(['id', 'accepted_at'])
          .where('account_id', '=', access.account.id)
          .where('user_id', '=', user.id)
          .where('deleted_at', 'is', null)
          .executeTakeFirst();
        if (existing?.accepted_at) {
          throw new ConflictError('That person is already a member.', 'already_member');
        }
        const values = {
          role: input.role,
          invited_by: access.principal.kind === 'session' ? access.principal.userId : null,
          invitation_lookup: minted.lookup,
          invitation_digest: minted.digest,
          invitation_expires_at: expiresAt,
          runner_access: JSON.stringify(NO_RUNNER_ACCESS),
          pack_access: JSON.stringify(FULL_PACK_ACCESS),
        };
        const row = existing
          ? await trx
              .updateTable('memberships')
              .set(values)
              .where('id', '=', existing.id)
              .where('account_id', '=', access.account.id)
              .returning('id')
              .executeTakeFirstOrThrow()
          : await trx
              .insertInto('memberships')
              .values({
                ...values,
                account_id: access.account.id,
                user_id: user.id,
                created_at: clock.now().toISOString(),
              })
              .returning('id')
              .executeTakeFirstOrThrow();
        await deps.outbox.enqueue(trx, {
          accountId: access.account.id,
          to: user.email,
          message: {
            template: 'invitation',
            inviter: access.actor.label ?? 'A teammate',
            workspace: access.account.name,
            role: input.role,
            link: `${deps.baseUrl}/accept_invitation#${minted.secret}`,
          },
        });
        await recordAuditEvent(
          trx,
          event(access, 'membership.invited', { id: row.id, email: user.email }, context, {
            role: input.role,
            expires_at: expiresAt,
          }),
        );
        return row.id;
      });
      deps.outbox.kick();
      return (await memberQuery(db, access.account.id)
        .where('m.id', '=', id)
        .executeTakeFirstOrThrow()) as MemberView;
    },

    async revokeInvitation(access: AccountAccess, membershipId: string, context: RequestContext) {
      await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('memberships')
          .set({
            deleted_at: clock.now().toISOString(),
            invitation_lookup: null,
            invitation_digest: null,
          })
          .where('id', '=', membershipId)
          .where('account_id', '=', access.account.id)
          .where('accepted_at', 'is', null)
          .where('deleted_at', 'is', null)
          .returning(['id', 'user_id', 'role'])
          .executeTakeFirst();
        if (!row) throw new NotFoundError();
        if (row.role === 'owner' && !access.permissions.has('owners.manage')) throw ownersOnly();
        const email = await emailOf(trx, row.user_id);
        await recordAuditEvent(
          trx,
          event(access, 'membership.invitation_revoked', { id: row.id, email }, context),
        );
      });
    },

    /**
     * Accepts an invitation from its emailed token. Without a session the token
     * (proof of the mailbox) signs the invitee in; with one it must be theirs.
     */
    async accept(
      token: string,
      session: SessionPrincipal | null,
      context: RequestContext,
    ): Promise<{ accountSlug: string; session: SignInResult | null }> {
      const invalid = () =>
        new UnauthorizedError('That invitation is invalid, expired or already used.');
      const lookup = lookupOf(token, SECRET_PREFIX.invitation);
      if (!lookup) throw invalid();
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('memberships as m')
          .innerJoin('accounts as a', 'a.id', 'm.account_id')
          .select([
            'm.id',
            'm.user_id',
            'm.role',
            'm.account_id',
            'm.invitation_digest',
            'm.invitation_expires_at',
            'a.slug',
          ])
          .where('m.invitation_lookup', '=', lookup)
          .where('m.deleted_at', 'is', null)
          .where('m.accepted_at', 'is', null)
          .where('a.deleted_at', 'is', null)
          .forUpdate()
          .executeTakeFirst();
        if (
          !row?.invitation_digest ||
          !secretMatches(token, row.invitation_digest) ||
          !row.invitation_expires_at ||
          new Date(row.invitation_expires_at) <= clock.now()
        ) {
          throw invalid();
        }
        if (session && session.userId !== row.user_id) {
          throw new ForbiddenError(
            'This invitation was sent to another address; sign out first.',
            'wrong_user',
          );
        }
        const now = clock.now().toISOString();
        await trx
          .updateTable('memberships')
          .set({
            accepted_at: now,
            invitation_lookup: null,
            invitation_digest: null,
            invitation_expires_at: null,
          })
          .where('id', '=', row.id)
          .where('account_id', '=', row.account_id)
          .execute();
        const user = (await findUserById(trx, row.user_id))!;
        if (!user.confirmed_at) {
          await trx
            .updateTable('users')
            .set({ confirmed_at: now })
            .where('id', '=', user.id)
            .execute();
        }
        const signedIn = session
          ? null
          : await deps.signIn.startSession(trx, user, 'invitation', context);
        await recordAuditEvent(trx, {
          accountId: row.account_id,
          eventType: 'membership.accepted',
          actor: userActor(user),
          target: { kind: 'membership', id: row.id, label: user.email },
          payload: { role: row.role },
          context,
        });
        return { accountSlug: row.slug, session: signedIn };
      });
    },
  };
}

export type MemberService = ReturnType<typeof createMemberService>;
