import { verify as argon2Verify } from '@node-rs/argon2';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, UnauthorizedError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import type { Database } from '../db/schema.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import type { MailOutbox } from '../mail/index.js';
import type { PersonAudit } from './person-audit.js';
import { hitAddressLimits, MAIL_PER_ADDRESS } from './rate-limits.js';
import { revokeSessions } from './sessions.js';
import { hashPassword } from './sign-in.js';
import { consumeUserToken, mintUserToken } from './user-tokens.js';
import { findUserByEmail, findUserById } from './users.js';

export const passwordSchema = z
  .string()
  .min(12, 'Use at least 12 characters.')
  .max(256, 'Use at most 256 characters.');

export interface AccountRecoveryDeps {
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
  db: Kysely<Database>;
  clock: Clock;
  outbox: Pick<MailOutbox, 'enqueue' | 'kick'>;
  baseUrl: string;
}

/** Passwords (optional), their reset by email, and email confirmation links. A factory of short methods. */
export function createPasswordService(deps: AccountRecoveryDeps) {
  const { db, clock, personAudit } = deps;
  return {
    /** Set or change; a current password must be proved when one exists. Revokes other sessions. */
    async setPassword(
      session: SessionPrincipal,
      input: { password: string; currentPassword: string | null },
      context: RequestContext,
    ): Promise<void> {
      const user = (await findUserById(db, session.userId))!;
      if (user.password_hash) {
        const ok =
          input.currentPassword !== null &&
          (await argon2Verify(user.password_hash, input.currentPassword).catch(() => false));
        if (!ok) throw new UnauthorizedError('The current password is wrong.');
      }
      const passwordHash = await hashPassword(input.password);
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({ password_hash: passwordHash })
          .where('id', '=', user.id)
          .execute();
        const revoked = await revokeSessions(trx, user.id, clock, { except: session.sessionId });
        await personAudit.recordForPerson(trx, user.id, {
          eventType: user.password_hash ? 'user.password_changed' : 'user.password_set',
          actor: userActor(user),
          payload: { other_sessions_revoked: revoked },
          context,
        });
      });
    },

    /**
     * Mails a reset link, or tells an unknown address it has no account: the
     * same budgets, rows and mail queue either way, so the answer and its
     * timing do not say which.
     */
    async requestReset(email: string): Promise<void> {
      await hitAddressLimits(db, email, clock, { sendsMail: true });
      const user = await findUserByEmail(db, email);
      await db.transaction().execute(async (trx) => {
        const token = await mintUserToken(trx, user?.id ?? null, 'password_reset', clock);
        await deps.outbox.enqueue(trx, {
          accountId: null,
          to: email,
          message: user
            ? { template: 'password_reset', link: `${deps.baseUrl}/reset_password#${token}` }
            : {
                template: 'no_account',
                asked: 'password_reset',
                signUpLink: `${deps.baseUrl}/sign_up`,
              },
        });
      });
      deps.outbox.kick();
    },

    /** Single use, 30 minutes; signs out every session of the user. */
    async resetPassword(token: string, password: string, context: RequestContext): Promise<void> {
      const passwordHash = await hashPassword(password);
      const ok = await db.transaction().execute(async (trx) => {
        const userId = await consumeUserToken(trx, token, 'password_reset', clock);
        if (!userId) return false;
        const user = (await findUserById(trx, userId))!;
        await trx
          .updateTable('users')
          .set({
            password_hash: passwordHash,
            confirmed_at: user.confirmed_at ?? clock.now().toISOString(),
          })
          .where('id', '=', userId)
          .execute();
        const revoked = await revokeSessions(trx, userId, clock);
        await personAudit.recordForPerson(trx, userId, {
          eventType: 'user.password_reset',
          actor: userActor(user),
          payload: { sessions_revoked: revoked },
          context,
        });
        return true;
      });
      if (!ok) throw new UnauthorizedError('That reset link is invalid, expired or already used.');
    },

    async resendConfirmation(session: SessionPrincipal): Promise<void> {
      const user = (await findUserById(db, session.userId))!;
      if (user.confirmed_at)
        throw new ConflictError('Your email is already confirmed.', 'already_confirmed');
      await hitDurableLimit(db, { ...MAIL_PER_ADDRESS, name: 'confirmation' }, user.email, clock);
      await db.transaction().execute(async (trx) => {
        const token = await mintUserToken(trx, user.id, 'confirm_email', clock);
        await deps.outbox.enqueue(trx, {
          accountId: null,
          to: user.email,
          message: { template: 'confirm_email', link: `${deps.baseUrl}/confirm#${token}` },
        });
      });
      deps.outbox.kick();
    },

    async confirmEmail(token: string, context: RequestContext): Promise<void> {
      const ok = await db.transaction().execute(async (trx) => {
        const userId = await consumeUserToken(trx, token, 'confirm_email', clock);
        if (!userId) return false;
        const user = (await findUserById(trx, userId))!;
        if (!user.confirmed_at) {
          await trx
            .updateTable('users')
            .set({ confirmed_at: clock.now().toISOString() })
            .where('id', '=', userId)
            .execute();
          await personAudit.recordForPerson(trx, userId, {
            eventType: 'user.email_confirmed',
            actor: userActor(user),
            context,
          });
        }
        return true;
      });
      if (!ok)
        throw new UnauthorizedError('That confirmation link is invalid, expired or already used.');
    },
  };
}

export type PasswordService = ReturnType<typeof createPasswordService>;
