import { recordAuditEvent } from '../audit/index.js';
import type { SignInResult } from '../auth/index.js';
import type { AccountAccess } from '../core/access.js';
import { userActor } from '../core/actor.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import {
  FULL_PACK_ACCESS,
  holdsEveryPermissionOf,
  NO_RUNNER_ACCESS,
  type Role,
} from '../core/roles.js';
import { lookupOf, mintSecret, SECRET_PREFIX, secretMatches } from '../core/secrets.js';
import type { Tx } from '../core/tx.js';
import {
  emailOf,
  type MemberDeps,
  type MemberView,
  membershipEvent,
  memberView,
  memberViews,
  ownersOnly,
} from './member-support.js';

export const INVITATION_TTL_MS = 7 * 86_400_000;

interface InvitationRecord {
  role: Role;
  invitedBy: string | null;
  lookup: string;
  digest: Uint8Array;
  expiresAt: string;
}

/** The invitation row for a person: a fresh one, or their pending one renewed. */
async function upsertInvitation(
  trx: Tx,
  accountId: string,
  userId: string,
  invitation: InvitationRecord,
  now: string,
): Promise<string> {
  const existing = await trx
    .selectFrom('memberships')
    .select(['id', 'accepted_at'])
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (existing?.accepted_at) {
    throw new ConflictError('That person is already a member.', 'already_member');
  }
  const values = {
    role: invitation.role,
    invited_by: invitation.invitedBy,
    invitation_lookup: invitation.lookup,
    invitation_digest: invitation.digest,
    invitation_expires_at: invitation.expiresAt,
    runner_access: JSON.stringify(NO_RUNNER_ACCESS),
    pack_access: JSON.stringify(FULL_PACK_ACCESS),
  };
  const row = existing
    ? await trx
        .updateTable('memberships')
        .set(values)
        .where('id', '=', existing.id)
        .where('account_id', '=', accountId)
        .returning('id')
        .executeTakeFirstOrThrow()
    : await trx
        .insertInto('memberships')
        .values({ ...values, account_id: accountId, user_id: userId, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
  return row.id;
}

/** The pending invitation an emailed token names, locked; null when it is not usable. */
async function takeInvitation(
  trx: Tx,
  deps: Pick<MemberDeps, 'accounts' | 'clock'>,
  token: string,
) {
  const lookup = lookupOf(token, SECRET_PREFIX.invitation);
  if (!lookup) return null;
  const row = await trx
    .selectFrom('memberships')
    .select(['id', 'user_id', 'role', 'account_id', 'invitation_digest', 'invitation_expires_at'])
    .where('invitation_lookup', '=', lookup)
    .where('deleted_at', 'is', null)
    .where('accepted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  const account = row && (await deps.accounts.findLiveAccountById(trx, row.account_id));
  if (
    !row?.invitation_digest ||
    !account ||
    !secretMatches(token, row.invitation_digest) ||
    !row.invitation_expires_at ||
    new Date(row.invitation_expires_at) <= deps.clock.now()
  ) {
    return null;
  }
  return { ...row, slug: account.slug };
}

/** Invitations: listing, sending, revoking and accepting. A factory of short methods. */
export function createInvitationService(deps: MemberDeps) {
  const { db, clock } = deps;

  return {
    listInvitations: (access: AccountAccess): Promise<MemberView[]> =>
      memberViews(deps, access.account.id, { joined: false }),

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
        const { user } = await deps.auth.findOrCreateUser(trx, input.email, null);
        const invitation = {
          role: input.role,
          invitedBy: access.principal.kind === 'session' ? access.principal.userId : null,
          lookup: minted.lookup,
          digest: minted.digest,
          expiresAt,
        };
        const now = clock.now().toISOString();
        const id = await upsertInvitation(trx, access.account.id, user.id, invitation, now);
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
        const target = { id, email: user.email };
        const payload = { role: input.role, expires_at: expiresAt };
        await recordAuditEvent(
          trx,
          membershipEvent(access, 'membership.invited', target, context, payload),
        );
        return id;
      });
      deps.outbox.kick();
      return memberView(deps, access.account.id, id);
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
        const email = await emailOf(deps, trx, row.user_id);
        await recordAuditEvent(
          trx,
          membershipEvent(access, 'membership.invitation_revoked', { id: row.id, email }, context),
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
      return db.transaction().execute(async (trx) => {
        const row = await takeInvitation(trx, deps, token);
        if (!row)
          throw new UnauthorizedError('That invitation is invalid, expired or already used.');
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
        const user = (await deps.auth.findUserById(trx, row.user_id))!;
        if (!user.confirmed_at) await deps.auth.markUserConfirmed(trx, user.id, now);
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
