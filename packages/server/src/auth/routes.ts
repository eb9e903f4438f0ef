import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../core/errors.js';
import { parseInput } from '../core/parse-input.js';
import {
  clearSessionCookie,
  clearSignInNonceCookie,
  contextOf,
  readSignInNonceCookie,
  requireSession,
  setSessionCookie,
  setSignInNonceCookie,
} from '../http/auth.js';
import { isLoopbackClient } from '../http/loopback.js';
import { parseSecondFactorProof } from './mfa.js';
import type { PasskeyService } from './passkeys.js';
import { type PasswordService, passwordSchema } from './password.js';
import type { SignInBudget } from './rate-limits.js';
import type { SessionService } from './session-service.js';
import type { SignInResult, SignInService } from './sign-in.js';
import { emailSchema, fullNameSchema } from './users.js';

export interface AuthRouteDeps {
  /** Spent by every sign-in route: one shared per-client budget. */
  budget: SignInBudget;
  sessions: Pick<SessionService, 'end'>;
  secureCookies: boolean;
  /** TRUST_PROXY is set: forwarded client addresses are believed. */
  trustsProxy: boolean;
  signIn: SignInService;
  passwords: PasswordService;
  passkeys: PasskeyService;
}

const secretText = z.string().min(1).max(200);

/**
 * Sign-up, every sign-in method, sign-out, and the emailed-link completions
 * (all POST). Every route but sign-out spends one shared per-client budget.
 */
export function registerAuthRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  registerCodeRoutes(app, deps);
  registerSignInRoutes(app, deps);
  registerPasswordRoutes(app, deps);
}

/** The browser ends any sign-in with exactly one cookie: the session. */
async function finishSignIn(
  deps: Pick<AuthRouteDeps, 'sessions' | 'secureCookies'>,
  request: FastifyRequest,
  reply: FastifyReply,
  result: Pick<SignInResult, 'status' | 'sessionToken'>,
) {
  const previous = request.principal;
  if (previous?.kind === 'session') await deps.sessions.end(previous);
  setSessionCookie(reply, result.sessionToken, deps.secureCookies);
  clearSignInNonceCookie(reply, deps.secureCookies);
  return { status: result.status };
}

/** Sign-up and sign-in by emailed code. */
function registerCodeRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  const { secureCookies, budget: perClient } = deps;

  app.post('/api/v1/sign_up', perClient, async (request, reply) => {
    const body = parseInput(
      z.object({
        email: emailSchema,
        full_name: fullNameSchema.nullish(),
        workspace_name: z.string().trim().min(1).max(80),
      }),
      request.body,
    );
    const cookie = await deps.signIn.signUp({
      email: body.email,
      fullName: body.full_name ?? null,
      workspaceName: body.workspace_name,
    });
    setSignInNonceCookie(reply, cookie, secureCookies);
    return reply.status(202).send({ status: 'code_sent' });
  });

  app.post('/api/v1/sign_in/code/request', perClient, async (request, reply) => {
    const body = parseInput(z.object({ email: emailSchema }), request.body);
    const cookie = await deps.signIn.requestCode(body.email);
    setSignInNonceCookie(reply, cookie, secureCookies);
    return reply.status(202).send({ status: 'code_sent' });
  });

  app.post('/api/v1/sign_in/code', perClient, async (request, reply) => {
    const body = parseInput(z.object({ code: z.string().max(32) }), request.body);
    const result = await deps.signIn.verifyCode(
      readSignInNonceCookie(request),
      body.code,
      contextOf(request),
    );
    return finishSignIn(deps, request, reply, result);
  });
}

/** Password, bootstrap link, second factor and passkey sign-in; sign-out. */
function registerSignInRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  const { secureCookies, budget: perClient } = deps;

  app.post('/api/v1/sign_in/password', perClient, async (request, reply) => {
    const body = parseInput(
      z.object({ email: emailSchema, password: z.string().min(1).max(256) }),
      request.body,
    );
    const result = await deps.signIn.signInWithPassword(
      body.email,
      body.password,
      contextOf(request),
    );
    return finishSignIn(deps, request, reply, result);
  });

  app.post('/api/v1/sign_in/bootstrap', perClient, async (request, reply) => {
    if (!isLoopbackClient(request, deps.trustsProxy)) throw new NotFoundError();
    const body = parseInput(z.object({ token: secretText }), request.body);
    const result = await deps.signIn.signInWithBootstrapToken(body.token, contextOf(request));
    return finishSignIn(deps, request, reply, result);
  });

  app.post('/api/v1/sign_in/mfa', perClient, async (request) => {
    const session = requireSession(request, { allowPendingMfa: true });
    const proof = parseSecondFactorProof((request.body ?? {}) as Record<string, unknown>);
    await deps.signIn.completeMfa(session, proof, contextOf(request));
    return { status: 'signed_in' };
  });

  app.post('/api/v1/sign_in/passkey/options', perClient, async () => deps.passkeys.signInOptions());

  app.post('/api/v1/sign_in/passkey', perClient, async (request, reply) => {
    const body = parseInput(
      z.object({
        challenge_id: z.string().max(64),
        response: z.looseObject({ id: z.string().max(1024) }),
      }),
      request.body,
    );
    const pending =
      request.principal?.kind === 'session' && !request.principal.mfaSatisfied
        ? request.principal
        : null;
    const result = await deps.passkeys.signIn(
      {
        challengeId: body.challenge_id,
        response: body.response as unknown as AuthenticationResponseJSON,
      },
      pending,
      contextOf(request),
    );
    if (result.sessionToken === null) return { status: result.status };
    return finishSignIn(deps, request, reply, result);
  });

  app.post('/api/v1/sign_out', async (request, reply) => {
    const principal = request.principal;
    if (principal?.kind === 'session') await deps.sessions.end(principal);
    clearSessionCookie(reply, secureCookies);
    clearSignInNonceCookie(reply, secureCookies);
    return { status: 'signed_out' };
  });
}

/** Password reset and email confirmation by emailed link. */
function registerPasswordRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  const { budget: perClient } = deps;

  app.post('/api/v1/password/forgot', perClient, async (request, reply) => {
    const body = parseInput(z.object({ email: emailSchema }), request.body);
    await deps.passwords.requestReset(body.email);
    return reply.status(202).send({ status: 'email_sent_if_registered' });
  });

  app.post('/api/v1/password/reset', perClient, async (request) => {
    const body = parseInput(
      z.object({ token: secretText, password: passwordSchema }),
      request.body,
    );
    await deps.passwords.resetPassword(body.token, body.password, contextOf(request));
    return { status: 'password_reset' };
  });

  app.post('/api/v1/email/confirm', perClient, async (request) => {
    const body = parseInput(z.object({ token: secretText }), request.body);
    await deps.passwords.confirmEmail(body.token, contextOf(request));
    return { status: 'confirmed' };
  });
}
