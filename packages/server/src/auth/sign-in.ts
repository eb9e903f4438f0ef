import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type { Kysely } from 'kysely';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { UnauthorizedError } from '../core/errors.js';
import type { AuthMethod, SessionPrincipal } from '../core/principal.js';
import type { SecretBox } from '../core/secret-box.js';
import { digestsEqual, sha256 } from '../core/secrets.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import type { MailOutbox } from '../mail/index.js';
import { newSignInCode, normalizeSignInCode } from './codes.js';
import { type SecondFactorProof, verifySecondFactor } from './mfa.js';
import type { PersonAudit } from './person-audit.js';
import { hitAddressLimits, MFA_LIMIT } from './rate-limits.js';
import { createSession, markSessionMfaVerified } from './sessions.js';
import { recordSignInFailure } from './sign-in-failures.js';
import type { PendingSignUp } from './tables.js';
import { consumeUserToken } from './user-tokens.js';
import { findOrCreateUser, findUserByEmail, findUserById, type UserRow } from './users.js';
import type { CreateWorkspace } from './workspaces.js';

export const SIGN_IN_CODE_TTL_MS = 15 * 60_000;
export const SIGN_IN_CODE_MAX_FAILURES = 5;

export interface SignInDeps {
  db: Kysely<Database>;
  clock: Clock;
  outbox: Pick<MailOutbox, 'enqueue' | 'kick'>;
  baseUrl: string;
  totpBox: SecretBox;
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
  /** A verified sign-up's workspace. */
  createWorkspace: CreateWorkspace;
}

/** The result of a primary factor: a session, complete or waiting for the second factor. */
export interface SignInResult {
  status: 'signed_in' | 'mfa_required';
  sessionToken: string;
  userId: string;
}

/**
 * What the browser keeps between asking for a code and using it:
 * `<row id>.<nonce>`. Both parts are random and the row exists whether or not
 * the address is registered.
 */
export type NonceCookieValue = string;

interface CodeRequest {
  /** The normalised address the code is for. */
  address: string;
  /** Its registered person, if any. */
  user: UserRow | undefined;
  /** Set when the request is a sign-up. */
  signUp: PendingSignUp | null;
}

/** A user id no row has: lookups for a code row of nobody still run. */
const NOBODY = '00000000-0000-0000-0000-000000000000';

const invalidCode = () =>
  new UnauthorizedError('That code is wrong, expired or already used. Ask for a new one.');
const invalidCredentials = () => new UnauthorizedError('The email or password is wrong.');

// Verified against when the email is unknown, so both paths cost one argon2 verification.
const DUMMY_PASSWORD_HASH = argon2Hash(randomBytes(16).toString('hex'));

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password); // argon2id with the library's defaults (19 MiB, t=2)
}

/** Every way to sign in or up, and the session it starts. A factory of short methods. */
export function createSignInService(deps: SignInDeps) {
  const { db, clock, personAudit } = deps;

  /**
   * Mints a code for an address (replacing any outstanding one) and queues its
   * email, in one shape whether or not the address is registered: the row and
   * the cookie exist either way. A registered address, or anyone signing up,
   * gets the code; an unknown address is told it has no account, so its row
   * can never be used.
   */
  async function issueCode(trx: Tx, request: CodeRequest): Promise<NonceCookieValue> {
    const nonce = randomBytes(32).toString('base64url');
    const code = newSignInCode();
    const now = clock.now();
    const row = await trx
      .insertInto('sign_in_codes')
      .values({
        user_id: request.user?.id ?? null,
        address_digest: sha256(request.address),
        sign_up: request.signUp ? JSON.stringify(request.signUp) : null,
        digest: sha256(nonce + code),
        expires_at: new Date(now.getTime() + SIGN_IN_CODE_TTL_MS).toISOString(),
        created_at: now.toISOString(),
      })
      .onConflict((oc) =>
        oc.column('address_digest').doUpdateSet((eb) => ({
          id: eb.fn('gen_random_uuid'),
          user_id: eb.ref('excluded.user_id'),
          sign_up: eb.ref('excluded.sign_up'),
          digest: eb.ref('excluded.digest'),
          failed_attempts: 0,
          expires_at: eb.ref('excluded.expires_at'),
          created_at: eb.ref('excluded.created_at'),
          consumed_at: null,
        })),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    const mailsCode = request.user !== undefined || request.signUp !== null;
    await deps.outbox.enqueue(trx, {
      accountId: null,
      to: request.address,
      message: mailsCode
        ? { template: 'sign_in_code', code, link: `${deps.baseUrl}/sign_in/code#${code}` }
        : { template: 'no_account', asked: 'sign_in', signUpLink: `${deps.baseUrl}/sign_up` },
    });
    return `${row.id}.${nonce}`;
  }

  /** Counts the request against the address's budgets, looks it up, and mails it a code. */
  async function codeFor(address: string, signUp: PendingSignUp | null): Promise<NonceCookieValue> {
    await hitAddressLimits(db, address, clock, { sendsMail: true });
    const user = await findUserByEmail(db, address);
    const cookie = await db
      .transaction()
      .execute((trx) => issueCode(trx, { address, user, signUp }));
    deps.outbox.kick();
    return cookie;
  }

  /** The workspace a verified sign-up asked for, and its owner when the address was new. */
  async function completeSignUp(
    trx: Tx,
    signUp: PendingSignUp,
    registered: UserRow | undefined,
    context: RequestContext,
  ): Promise<UserRow> {
    const { user, created } = registered
      ? { user: registered, created: false }
      : await findOrCreateUser(trx, signUp.email, signUp.full_name);
    const { account } = await deps.createWorkspace(
      trx,
      { name: signUp.workspace_name, owner: user },
      context,
    );
    if (created) {
      await personAudit.recordForPerson(trx, user.id, {
        eventType: 'user.signed_up',
        actor: userActor(user),
        payload: { account_slug: account.slug },
        context,
      });
    }
    return user;
  }

  /** Creates the session after a primary factor; the second factor may still be due. */
  async function startSession(
    trx: Tx,
    user: UserRow,
    method: AuthMethod,
    context: RequestContext,
    secondFactorProved = false,
  ): Promise<SignInResult> {
    const needsMfa = user.mfa_enabled_at !== null && !secondFactorProved;
    const session = await createSession(
      trx,
      { userId: user.id, method, mfaVerified: secondFactorProved, context },
      clock,
    );
    if (!needsMfa) {
      await personAudit.recordForPerson(trx, user.id, {
        eventType: 'user.signed_in',
        actor: userActor(user),
        payload: { method, session_id: session.id },
        context: { ...context, authMethod: `session:${method}`, mfa: secondFactorProved },
      });
    }
    return {
      status: needsMfa ? 'mfa_required' : 'signed_in',
      sessionToken: session.token,
      userId: user.id,
    };
  }

  async function confirmEmail(trx: Tx, user: UserRow, context: RequestContext) {
    if (user.confirmed_at) return;
    await trx
      .updateTable('users')
      .set({ confirmed_at: clock.now().toISOString() })
      .where('id', '=', user.id)
      .execute();
    await personAudit.recordForPerson(trx, user.id, {
      eventType: 'user.email_confirmed',
      actor: userActor(user),
      context,
    });
  }

  return {
    /**
     * Sign-up: a sign-in code sent at once; the user (when new) and the
     * workspace (owner, Free plan, default policy) are created when the code
     * is used. A registered address gets the same code and the same answer, and
     * its workspace is added when that person uses it.
     */
    signUp(input: {
      email: string;
      fullName: string | null;
      workspaceName: string;
    }): Promise<NonceCookieValue> {
      return codeFor(input.email, {
        email: input.email,
        full_name: input.fullName,
        workspace_name: input.workspaceName,
      });
    },

    requestCode(email: string): Promise<NonceCookieValue> {
      return codeFor(email, null);
    },

    /**
     * The split secret: the code (from the email) only works with the nonce the
     * requesting browser holds. Five wrong tries lock it; success uses it up.
     */
    async verifyCode(
      nonceCookie: string | null,
      rawCode: string,
      context: RequestContext,
    ): Promise<SignInResult> {
      const [rowId, nonce] = (nonceCookie ?? '').split('.');
      const code = normalizeSignInCode(rawCode);
      if (!rowId || !nonce || !/^[0-9a-f-]{36}$/.test(rowId)) throw invalidCode();
      const outcome = await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('sign_in_codes')
          .selectAll()
          .where('id', '=', rowId)
          .forUpdate()
          .executeTakeFirst();
        if (!row) return null;
        // Looked up even for a row of nobody, so both cost the same.
        const user = await findUserById(trx, row.user_id ?? NOBODY);
        const usable =
          !row.consumed_at &&
          row.failed_attempts < SIGN_IN_CODE_MAX_FAILURES &&
          new Date(row.expires_at) > clock.now();
        const matches = code !== null && digestsEqual(sha256(nonce + code), row.digest);
        const anyone = user !== undefined || row.sign_up !== null;
        if (!usable || !matches || !anyone) {
          if (usable) {
            await trx
              .updateTable('sign_in_codes')
              .set({ failed_attempts: row.failed_attempts + 1 })
              .where('id', '=', row.id)
              .execute();
          }
          const reason = usable ? 'wrong_code' : 'code_unusable';
          const failure = { userId: user?.id ?? null, method: 'code', reason, context } as const;
          await recordSignInFailure(trx, failure, clock);
          return null;
        }
        await trx
          .updateTable('sign_in_codes')
          .set({ consumed_at: clock.now().toISOString() })
          .where('id', '=', row.id)
          .execute();
        const person = row.sign_up ? await completeSignUp(trx, row.sign_up, user, context) : user!;
        await confirmEmail(trx, person, context);
        return startSession(trx, person, 'code', context);
      });
      if (!outcome) throw invalidCode();
      return outcome;
    },

    async signInWithPassword(
      email: string,
      password: string,
      context: RequestContext,
    ): Promise<SignInResult> {
      await hitAddressLimits(db, email, clock, { sendsMail: false });
      const user = await findUserByEmail(db, email);
      const storedHash = user?.password_hash ?? (await DUMMY_PASSWORD_HASH);
      const valid = await argon2Verify(storedHash, password).catch(() => false);
      const outcome = await db.transaction().execute(async (trx) => {
        if (!user?.password_hash || !valid) {
          const failure = { userId: user?.id ?? null, method: 'password', context } as const;
          await recordSignInFailure(trx, { ...failure, reason: 'wrong_password' }, clock);
          return null;
        }
        return startSession(trx, user, 'password', context);
      });
      if (!outcome) throw invalidCredentials();
      return outcome;
    },

    /** `emisar-server bootstrap`'s printed link; the route accepts it from loopback only. */
    async signInWithBootstrapToken(token: string, context: RequestContext): Promise<SignInResult> {
      const outcome = await db.transaction().execute(async (trx) => {
        const userId = await consumeUserToken(trx, token, 'bootstrap', clock);
        if (!userId) return null;
        const user = (await findUserById(trx, userId))!;
        await confirmEmail(trx, user, context);
        return startSession(trx, user, 'bootstrap', context);
      });
      if (!outcome) throw new UnauthorizedError('That sign-in link is invalid, expired or used.');
      return outcome;
    },

    /** The second step for a session whose user has MFA: a TOTP or recovery code. */
    async completeMfa(
      session: SessionPrincipal,
      proof: SecondFactorProof,
      context: RequestContext,
    ): Promise<void> {
      await hitDurableLimit(db, MFA_LIMIT, session.userId, clock);
      const ok = await db.transaction().execute(async (trx) => {
        const user = (await findUserById(trx, session.userId))!;
        const method = await verifySecondFactor(trx, user.id, proof, deps.totpBox, clock);
        if (!method) {
          const failure = {
            userId: user.id,
            method: 'mfa',
            reason: 'wrong_second_factor',
          } as const;
          await recordSignInFailure(trx, { ...failure, context }, clock);
          return false;
        }
        await markSessionMfaVerified(trx, session.sessionId, clock);
        const eventTypes =
          method === 'recovery_code'
            ? ['user.mfa_recovery_code_used', 'user.signed_in']
            : ['user.signed_in'];
        for (const eventType of eventTypes) {
          await personAudit.recordForPerson(trx, user.id, {
            eventType,
            actor: userActor(user),
            payload: { method: session.authMethod, second_factor: method },
            context: { ...context, authMethod: `session:${session.authMethod}`, mfa: true },
          });
        }
        return true;
      });
      if (!ok) throw new UnauthorizedError('That code is not valid.');
    },

    startSession,
    confirmEmail,
  };
}

export type SignInService = ReturnType<typeof createSignInService>;
