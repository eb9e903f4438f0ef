import { verify as argon2Verify } from '@node-rs/argon2';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, UnauthorizedError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import type { SecretBox } from '../core/secret-box.js';
import type { Db, Tx } from '../core/tx.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  removeTotp,
  replaceRecoveryCodes,
  type SecondFactorProof,
  verifySecondFactor,
} from './mfa.js';
import type { PersonAudit } from './person-audit.js';
import { MFA_LIMIT } from './rate-limits.js';
import { markSessionAuthenticated, markSessionMfaVerified } from './sessions.js';
import { findUserById } from './users.js';

export interface MfaServiceDeps {
  db: Db;
  clock: Clock;
  totpBox: SecretBox;
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
}

const invalidCode = () => new UnauthorizedError('That code is not valid.');

/** A person's own second factors and re-authentication. A factory of short methods. */
export function createMfaService(deps: MfaServiceDeps) {
  const { db, clock, totpBox, personAudit } = deps;

  /** Proving a current factor is required to remove TOTP or replace recovery codes. */
  async function withProvedFactor<T>(
    session: SessionPrincipal,
    proof: SecondFactorProof,
    action: (trx: Tx, userId: string) => Promise<T>,
  ): Promise<T> {
    await hitDurableLimit(db, MFA_LIMIT, session.userId, clock);
    const outcome = await db.transaction().execute(async (trx) => {
      const method = await verifySecondFactor(trx, session.userId, proof, totpBox, clock);
      if (!method) return { ok: false as const };
      return { ok: true as const, value: await action(trx, session.userId) };
    });
    if (!outcome.ok) throw invalidCode();
    return outcome.value;
  }

  async function reauthenticateWithPassword(
    session: SessionPrincipal,
    password: string,
    context: RequestContext,
  ) {
    const user = (await findUserById(db, session.userId))!;
    const ok =
      user.password_hash !== null &&
      password.length <= 256 &&
      (await argon2Verify(user.password_hash, password).catch(() => false));
    if (!ok) throw new UnauthorizedError('The password is wrong.');
    await db.transaction().execute(async (trx) => {
      await markSessionAuthenticated(trx, session.sessionId, clock);
      await personAudit.recordForPerson(trx, user.id, {
        eventType: 'user.reauthenticated',
        actor: userActor(user),
        payload: { factor: 'password' },
        context,
      });
    });
  }

  return {
    async beginTotp(session: SessionPrincipal) {
      const user = (await findUserById(db, session.userId))!;
      return beginTotpEnrolment(db, user, totpBox);
    },

    async confirmTotp(
      session: SessionPrincipal,
      code: string,
      context: RequestContext,
    ): Promise<string[]> {
      await hitDurableLimit(db, MFA_LIMIT, session.userId, clock);
      const result = await db.transaction().execute(async (trx) => {
        const user = (await findUserById(trx, session.userId))!;
        const confirmed = await confirmTotpEnrolment(trx, user, code, totpBox, clock);
        if (!confirmed) return null;
        await markSessionMfaVerified(trx, session.sessionId, clock);
        await personAudit.recordForPerson(trx, user.id, {
          eventType: 'user.mfa_enabled',
          actor: userActor(user),
          payload: { factor: 'totp' },
          context: { ...context, mfa: true },
        });
        return confirmed;
      });
      if (!result) throw invalidCode();
      return result.recoveryCodes;
    },

    /**
     * Re-authentication for sensitive actions (e.g. deciding a high-risk
     * approval): a password, a TOTP or a recovery code refreshes the session's
     * authenticated time. A passkey or an emailed code does it by signing in again.
     */
    async reauthenticate(
      session: SessionPrincipal,
      proof: { password: string } | SecondFactorProof,
      context: RequestContext,
    ): Promise<void> {
      if ('password' in proof) {
        return reauthenticateWithPassword(session, proof.password, context);
      }
      await withProvedFactor(session, proof, async (trx, userId) => {
        await markSessionMfaVerified(trx, session.sessionId, clock);
        await personAudit.recordForPerson(trx, userId, {
          eventType: 'user.reauthenticated',
          actor: userActor({ id: userId, email: session.email }),
          payload: { factor: 'second_factor' },
          context: { ...context, mfa: true },
        });
      });
    },

    removeTotp(session: SessionPrincipal, proof: SecondFactorProof, context: RequestContext) {
      return withProvedFactor(session, proof, async (trx, userId) => {
        const user = (await findUserById(trx, userId))!;
        if (!user.totp_secret_ciphertext)
          throw new ConflictError('TOTP is not enabled.', 'totp_not_enabled');
        await removeTotp(trx, userId);
        await personAudit.recordForPerson(trx, userId, {
          eventType: 'user.mfa_disabled',
          actor: userActor(user),
          payload: { factor: 'totp' },
          context,
        });
      });
    },

    replaceRecoveryCodes(
      session: SessionPrincipal,
      proof: SecondFactorProof,
      context: RequestContext,
    ): Promise<string[]> {
      return withProvedFactor(session, proof, async (trx, userId) => {
        const user = (await findUserById(trx, userId))!;
        const codes = await replaceRecoveryCodes(trx, userId);
        await personAudit.recordForPerson(trx, userId, {
          eventType: 'user.mfa_recovery_codes_regenerated',
          actor: userActor(user),
          context,
        });
        return codes;
      });
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
