import { verify as argon2Verify } from '@node-rs/argon2';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { SecretBox } from '../core/secret-box.js';
import type { Database } from '../db/schema.js';
import { contextOf, requireSession } from '../http/auth.js';
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  mfaStatus,
  parseSecondFactorProof,
  removeTotp,
  replaceRecoveryCodes,
  verifySecondFactor,
} from './mfa.js';
import type { PasskeyService } from './passkeys.js';
import { type PasswordService, passwordSchema } from './password.js';
import type { PersonAudit } from './person-audit.js';
import { hitDurableLimit, MFA_LIMIT } from './rate-limits.js';
import {
  listSessions,
  markSessionAuthenticated,
  markSessionMfaVerified,
  revokeSessions,
} from './sessions.js';
import { findUserById, fullNameSchema } from './users.js';
import type { ListWorkspaces } from './workspaces.js';

export interface MeRouteDeps {
  db: Kysely<Database>;
  clock: Clock;
  totpBox: SecretBox;
  passwords: PasswordService;
  passkeys: PasskeyService;
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
  listWorkspaces: ListWorkspaces;
}

const idParam = z.object({ id: z.string().regex(UUID_PATTERN, 'not an id') });

/** The signed-in person's own profile, sessions, password, MFA and workspaces. */
export function registerMeRoutes(app: FastifyInstance, deps: MeRouteDeps): void {
  const { db, clock, personAudit } = deps;

  app.get('/api/v1/me', async (request) => {
    const session = requireSession(request, { allowPendingMfa: true });
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
    const memberships = await deps.listWorkspaces(user.id);
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
      accounts: memberships,
    };
  });

  app.patch('/api/v1/me', async (request) => {
    const session = requireSession(request);
    const body = parseInput(z.object({ full_name: fullNameSchema.nullable() }), request.body);
    await db
      .updateTable('users')
      .set({ full_name: body.full_name })
      .where('id', '=', session.userId)
      .execute();
    return { ok: true };
  });

  app.post('/api/v1/me/confirmation', async (request, reply) => {
    await deps.passwords.resendConfirmation(requireSession(request));
    return reply.status(202).send({ status: 'email_sent' });
  });

  app.post('/api/v1/me/password', async (request) => {
    const session = requireSession(request);
    const body = parseInput(
      z.object({ password: passwordSchema, current_password: z.string().max(256).nullish() }),
      request.body,
    );
    await deps.passwords.setPassword(
      session,
      { password: body.password, currentPassword: body.current_password ?? null },
      contextOf(request),
    );
    return { status: 'password_set' };
  });

  app.get('/api/v1/me/sessions', async (request) => {
    const session = requireSession(request);
    const sessions = await listSessions(db, session.userId, clock);
    return { sessions: sessions.map((s) => ({ ...s, current: s.id === session.sessionId })) };
  });

  app.delete('/api/v1/me/sessions/:id', async (request) => {
    const session = requireSession(request);
    const { id } = parseInput(idParam, request.params);
    await db.transaction().execute(async (trx) => {
      const revoked = await revokeSessions(trx, session.userId, clock, { only: id });
      if (!revoked) throw new NotFoundError();
      await personAudit.recordForPerson(trx, session.userId, {
        eventType: 'user.session_revoked',
        actor: userActor({ id: session.userId, email: session.email }),
        payload: { session_id: id },
        context: contextOf(request),
      });
    });
    return { ok: true };
  });

  app.post('/api/v1/me/sessions/revoke_others', async (request) => {
    const session = requireSession(request);
    const revoked = await db.transaction().execute(async (trx) => {
      const count = await revokeSessions(trx, session.userId, clock, { except: session.sessionId });
      await personAudit.recordForPerson(trx, session.userId, {
        eventType: 'user.session_revoked',
        actor: userActor({ id: session.userId, email: session.email }),
        payload: { other_sessions: count },
        context: contextOf(request),
      });
      return count;
    });
    return { revoked };
  });

  app.post('/api/v1/me/mfa/totp', async (request) => {
    const session = requireSession(request);
    const user = (await findUserById(db, session.userId))!;
    return beginTotpEnrolment(db, user, deps.totpBox);
  });

  app.post('/api/v1/me/mfa/totp/confirm', async (request) => {
    const session = requireSession(request);
    const body = parseInput(z.object({ code: z.string().max(16) }), request.body);
    await hitDurableLimit(db, MFA_LIMIT, session.userId, clock);
    const result = await db.transaction().execute(async (trx) => {
      const user = (await findUserById(trx, session.userId))!;
      const confirmed = await confirmTotpEnrolment(
        trx,
        user,
        body.code.trim(),
        deps.totpBox,
        clock,
      );
      if (!confirmed) return null;
      await markSessionMfaVerified(trx, session.sessionId, clock);
      await personAudit.recordForPerson(trx, user.id, {
        eventType: 'user.mfa_enabled',
        actor: userActor(user),
        payload: { factor: 'totp' },
        context: { ...contextOf(request), mfa: true },
      });
      return confirmed;
    });
    if (!result) throw new UnauthorizedError('That code is not valid.');
    return { recovery_codes: result.recoveryCodes };
  });

  /** Proving a current factor is required to remove TOTP or replace recovery codes. */
  async function withProvedFactor<T>(
    request: Parameters<typeof requireSession>[0],
    action: (trx: Transaction<Database>, userId: string) => Promise<T>,
  ): Promise<T> {
    const session = requireSession(request);
    const proof = parseSecondFactorProof((request.body ?? {}) as Record<string, unknown>);
    await hitDurableLimit(db, MFA_LIMIT, session.userId, clock);
    const outcome = await db.transaction().execute(async (trx) => {
      const method = await verifySecondFactor(trx, session.userId, proof, deps.totpBox, clock);
      if (!method) return { ok: false as const };
      return { ok: true as const, value: await action(trx, session.userId) };
    });
    if (!outcome.ok) throw new UnauthorizedError('That code is not valid.');
    return outcome.value;
  }

  /**
   * Re-authentication for sensitive actions (e.g. deciding a high-risk
   * approval): a password, a TOTP or a recovery code refreshes the session's
   * authenticated time. A passkey or an emailed code does it by signing in again.
   */
  app.post('/api/v1/me/reauth', async (request) => {
    const session = requireSession(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const context = contextOf(request);
    if (typeof body.password === 'string') {
      const user = (await findUserById(db, session.userId))!;
      const ok =
        user.password_hash !== null &&
        body.password.length <= 256 &&
        (await argon2Verify(user.password_hash, body.password).catch(() => false));
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
      return { status: 'reauthenticated' };
    }
    return withProvedFactor(request, async (trx, userId) => {
      await markSessionMfaVerified(trx, session.sessionId, clock);
      await personAudit.recordForPerson(trx, userId, {
        eventType: 'user.reauthenticated',
        actor: userActor({ id: userId, email: session.email }),
        payload: { factor: 'second_factor' },
        context: { ...context, mfa: true },
      });
      return { status: 'reauthenticated' };
    });
  });

  app.post('/api/v1/me/mfa/totp/remove', async (request) => {
    return withProvedFactor(request, async (trx, userId) => {
      const user = (await findUserById(trx, userId))!;
      if (!user.totp_secret_ciphertext)
        throw new ConflictError('TOTP is not enabled.', 'totp_not_enabled');
      await removeTotp(trx, userId);
      await personAudit.recordForPerson(trx, userId, {
        eventType: 'user.mfa_disabled',
        actor: userActor(user),
        payload: { factor: 'totp' },
        context: contextOf(request),
      });
      return { status: 'totp_removed' };
    });
  });

  app.post('/api/v1/me/mfa/recovery_codes', async (request) => {
    return withProvedFactor(request, async (trx, userId) => {
      const user = (await findUserById(trx, userId))!;
      const codes = await replaceRecoveryCodes(trx, userId);
      await personAudit.recordForPerson(trx, userId, {
        eventType: 'user.mfa_recovery_codes_regenerated',
        actor: userActor(user),
        context: contextOf(request),
      });
      return { recovery_codes: codes };
    });
  });

  app.get('/api/v1/me/passkeys', async (request) => {
    const session = requireSession(request);
    return { passkeys: await deps.passkeys.list(session.userId) };
  });

  app.post('/api/v1/me/passkeys/options', async (request) =>
    deps.passkeys.registrationOptions(requireSession(request)),
  );

  app.post('/api/v1/me/passkeys', async (request, reply) => {
    const session = requireSession(request);
    const body = parseInput(
      z.object({
        challenge_id: z.string().max(64),
        name: z.string().trim().min(1).max(80).default('Passkey'),
        response: z.looseObject({ id: z.string().max(1024) }),
      }),
      request.body,
    );
    const created = await deps.passkeys.register(
      session,
      {
        challengeId: body.challenge_id,
        name: body.name,
        response: body.response as unknown as RegistrationResponseJSON,
      },
      contextOf(request),
    );
    return reply.status(201).send(created);
  });

  app.delete('/api/v1/me/passkeys/:id', async (request) => {
    const session = requireSession(request);
    const { id } = parseInput(idParam, request.params);
    await deps.passkeys.remove(session, id, contextOf(request));
    return { ok: true };
  });
}
