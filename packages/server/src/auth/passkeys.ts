import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { InvalidParamsError, NotFoundError, UnauthorizedError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { PersonAudit } from './person-audit.js';
import { markSessionMfaVerified } from './sessions.js';
import type { SignInResult, SignInService } from './sign-in.js';
import type { WebauthnChallengesTable } from './tables.js';
import { findUserById } from './users.js';

const CHALLENGE_TTL_MS = 5 * 60_000;

export interface PasskeyDeps {
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
  db: Kysely<Database>;
  clock: Clock;
  baseUrl: string;
  signIn: Pick<SignInService, 'startSession'>;
}

/** Passkeys (WebAuthn): a second factor, and passwordless sign-in on their own. A factory of short methods. */
export function createPasskeyService(deps: PasskeyDeps) {
  const { db, clock, personAudit } = deps;
  const origin = new URL(deps.baseUrl).origin;
  const rpID = new URL(deps.baseUrl).hostname;

  async function storeChallenge(
    purpose: WebauthnChallengesTable['purpose'],
    challenge: string,
    userId: string | null,
  ): Promise<string> {
    const now = clock.now();
    const row = await db
      .insertInto('webauthn_challenges')
      .values({
        user_id: userId,
        purpose,
        challenge,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Uses up a challenge; null when it is unknown, used, expired or not for this purpose/user. */
  async function takeChallenge(
    trx: Tx,
    id: string,
    purpose: WebauthnChallengesTable['purpose'],
    userId: string | null,
  ): Promise<string | null> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return null;
    const row = await trx
      .updateTable('webauthn_challenges')
      .set({ used_at: clock.now().toISOString() })
      .where('id', '=', id)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', clock.now().toISOString())
      .returning(['challenge', 'user_id'])
      .executeTakeFirst();
    if (!row || row.user_id !== userId) return null;
    return row.challenge;
  }

  return {
    async registrationOptions(session: SessionPrincipal) {
      const existing = await db
        .selectFrom('passkeys')
        .select(['credential_id', 'transports'])
        .where('user_id', '=', session.userId)
        .execute();
      const options = await generateRegistrationOptions({
        rpName: 'emisar',
        rpID,
        userName: session.email,
        userID: Buffer.from(session.userId.replaceAll('-', ''), 'hex'),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({
          id: p.credential_id,
          transports: p.transports as AuthenticatorTransportFuture[],
        })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      const challengeId = await storeChallenge(
        'passkey_register',
        options.challenge,
        session.userId,
      );
      return { challenge_id: challengeId, options };
    },

    async register(
      session: SessionPrincipal,
      input: { challengeId: string; name: string; response: RegistrationResponseJSON },
      context: RequestContext,
    ): Promise<{ id: string }> {
      return db.transaction().execute(async (trx) => {
        const challenge = await takeChallenge(
          trx,
          input.challengeId,
          'passkey_register',
          session.userId,
        );
        if (!challenge)
          throw new InvalidParamsError('The passkey challenge is invalid or expired.');
        const verification = await verifyRegistrationResponse({
          response: input.response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: false,
        }).catch(() => null);
        if (!verification?.verified) {
          throw new InvalidParamsError('The passkey could not be verified.', 'passkey_invalid');
        }
        const { credential } = verification.registrationInfo;
        const row = await trx
          .insertInto('passkeys')
          .values({
            user_id: session.userId,
            credential_id: credential.id,
            public_key: Buffer.from(credential.publicKey),
            counter: credential.counter,
            transports: JSON.stringify(credential.transports ?? []),
            name: input.name,
            created_at: clock.now().toISOString(),
          })
          .onConflict((oc) => oc.column('credential_id').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!row)
          throw new InvalidParamsError('That passkey is already registered.', 'passkey_exists');
        const user = (await findUserById(trx, session.userId))!;
        if (!user.mfa_enabled_at) {
          await trx
            .updateTable('users')
            .set({ mfa_enabled_at: clock.now().toISOString() })
            .where('id', '=', user.id)
            .execute();
        }
        await markSessionMfaVerified(trx, session.sessionId, clock);
        await personAudit.recordForPerson(trx, user.id, {
          eventType: 'user.mfa_passkey_added',
          actor: userActor(user),
          target: { kind: 'passkey', id: row.id, label: input.name },
          context,
        });
        return { id: row.id };
      });
    },

    async signInOptions() {
      const options = await generateAuthenticationOptions({ rpID, userVerification: 'required' });
      const challengeId = await storeChallenge('passkey_sign_in', options.challenge, null);
      return { challenge_id: challengeId, options };
    },

    /**
     * Passwordless sign-in, or the second factor of a session that is waiting
     * for one (the same user's passkey then completes it).
     */
    async signIn(
      input: { challengeId: string; response: AuthenticationResponseJSON },
      pending: SessionPrincipal | null,
      context: RequestContext,
    ): Promise<SignInResult | { status: 'signed_in'; sessionToken: null; userId: string }> {
      const failure = () => new UnauthorizedError('The passkey was not accepted.');
      return db.transaction().execute(async (trx) => {
        const challenge = await takeChallenge(trx, input.challengeId, 'passkey_sign_in', null);
        const credentialId = typeof input.response?.id === 'string' ? input.response.id : '';
        const passkey = await trx
          .selectFrom('passkeys')
          .selectAll()
          .where('credential_id', '=', credentialId)
          .forUpdate()
          .executeTakeFirst();
        if (!challenge || !passkey) throw failure();
        const verification = await verifyAuthenticationResponse({
          response: input.response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: pending === null,
          credential: {
            id: passkey.credential_id,
            publicKey: new Uint8Array(passkey.public_key),
            counter: passkey.counter,
            transports: passkey.transports as AuthenticatorTransportFuture[],
          },
        }).catch(() => null);
        if (!verification?.verified) throw failure();
        await trx
          .updateTable('passkeys')
          .set({
            counter: verification.authenticationInfo.newCounter,
            last_used_at: clock.now().toISOString(),
          })
          .where('id', '=', passkey.id)
          .execute();
        const user = (await findUserById(trx, passkey.user_id))!;
        if (pending && pending.userId === user.id) {
          await completePendingSession(trx, pending, user, context);
          return { status: 'signed_in' as const, sessionToken: null, userId: user.id };
        }
        return deps.signIn.startSession(trx, user, 'passkey', context, true);
      });
    },

    async list(userId: string) {
      return db
        .selectFrom('passkeys')
        .select(['id', 'name', 'created_at', 'last_used_at'])
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .execute();
    },

    async remove(session: SessionPrincipal, passkeyId: string, context: RequestContext) {
      await db.transaction().execute(async (trx) => {
        const removed = await trx
          .deleteFrom('passkeys')
          .where('id', '=', passkeyId)
          .where('user_id', '=', session.userId)
          .returning(['id', 'name'])
          .executeTakeFirst();
        if (!removed) throw new NotFoundError();
        const user = (await findUserById(trx, session.userId))!;
        const remaining = await trx
          .selectFrom('passkeys')
          .select('id')
          .where('user_id', '=', user.id)
          .limit(1)
          .execute();
        if (!remaining.length && !user.totp_secret_ciphertext) {
          await trx
            .updateTable('users')
            .set({ mfa_enabled_at: null })
            .where('id', '=', user.id)
            .execute();
        }
        await personAudit.recordForPerson(trx, user.id, {
          eventType: 'user.mfa_passkey_removed',
          actor: userActor(user),
          target: { kind: 'passkey', id: removed.id, label: removed.name },
          context,
        });
      });
    },
  };

  async function completePendingSession(
    trx: Tx,
    pending: SessionPrincipal,
    user: { id: string; email: string },
    context: RequestContext,
  ) {
    await markSessionMfaVerified(trx, pending.sessionId, clock);
    await personAudit.recordForPerson(trx, user.id, {
      eventType: 'user.signed_in',
      actor: userActor(user),
      payload: { method: pending.authMethod, second_factor: 'passkey' },
      context: { ...context, authMethod: `session:${pending.authMethod}`, mfa: true },
    });
  }
}

export type PasskeyService = ReturnType<typeof createPasskeyService>;
