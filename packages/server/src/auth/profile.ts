import type { SessionPrincipal } from '../core/principal.js';
import type { Db } from '../core/tx.js';
import { mfaStatus } from './mfa.js';
import { findUserById } from './users.js';
import type { ListWorkspaces } from './workspaces.js';

/** What a signed-in person sees of themselves; their workspaces once MFA is satisfied. */
export function createProfileService(deps: { db: Db; listWorkspaces: ListWorkspaces }) {
  const { db } = deps;
  return {
    async describe(session: SessionPrincipal) {
      const user = (await findUserById(db, session.userId))!;
      const base = {
        user: { id: user.id, email: user.email, full_name: user.full_name },
        session: {
          id: session.sessionId,
          auth_method: session.authMethod,
          mfa_verified: session.mfaVerified,
        },
        mfa_pending: !session.mfaSatisfied,
      };
      if (!session.mfaSatisfied) return base;
      const accounts = await deps.listWorkspaces(user.id);
      return {
        ...base,
        user: {
          ...base.user,
          confirmed: user.confirmed_at !== null,
          has_password: user.password_hash !== null,
          mfa: await mfaStatus(db, user),
          created_at: user.created_at,
          last_sign_in_at: user.last_sign_in_at,
        },
        accounts,
      };
    },

    async rename(userId: string, fullName: string | null): Promise<void> {
      await db.updateTable('users').set({ full_name: fullName }).where('id', '=', userId).execute();
    },
  };
}

export type ProfileService = ReturnType<typeof createProfileService>;
