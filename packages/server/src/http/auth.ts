import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../core/context.js';
import { ForbiddenError, InvalidParamsError, UnauthorizedError } from '../core/errors.js';
import {
  type ApiKeyPrincipal,
  type KeyPrincipal,
  type Principal,
  SESSION_LIFETIME_MS,
  type SessionPrincipal,
} from '../core/principal.js';
import { deriveKey } from '../core/secret-box.js';
import { requestContext } from './request-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export const SESSION_COOKIE = 'emisar_session';
/** Transient: only between asking for a sign-in code and using it. */
export const SIGN_IN_NONCE_COOKIE = 'emisar_sign_in';
export const CSRF_HEADER = 'x-emisar-csrf';
export const SIGN_IN_NONCE_TTL_S = 15 * 60;

export interface AuthHttpDeps {
  /** The person a session token belongs to, or null (unknown, expired, revoked). */
  resolveSession(token: string): Promise<SessionPrincipal | null>;
  /** Who an API key secret acts as, or null for any key that does not work. */
  authenticateApiKey(secret: string): Promise<ApiKeyPrincipal | null>;
  secretKey: Buffer;
  baseUrl: string;
  secureCookies: boolean;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** One identical answer for every bad bearer: malformed, unknown, expired or revoked. */
const badBearer = () => new UnauthorizedError('The API key is invalid, expired or revoked.', true);

/**
 * Registers the cookie parser, resolves the caller (session cookie or Bearer
 * API key) on every request, and enforces the CSRF rule on state-changing
 * /api/v1 requests that do not use a Bearer key.
 */
export async function installAuth(app: FastifyInstance, deps: AuthHttpDeps): Promise<void> {
  await app.register(cookie, {
    secret: deriveKey(deps.secretKey, 'cookie-signing').toString('base64'),
    hook: 'onRequest',
  });
  app.decorateRequest('principal', null);
  const origin = new URL(deps.baseUrl).origin;

  app.addHook('onRequest', async (request) => {
    refuseSecretInQuery(request);
    const authorization = request.headers.authorization;
    // Other bearer kinds (OAuth, runner tokens) belong to their own routes, and so
    // does the MCP endpoint: its bearer is checked after its own request checks.
    if (
      authorization !== undefined &&
      !MCP_ENDPOINT.test(request.url) &&
      (isRestApi(request) || isApiKeyBearer(authorization))
    ) {
      const match = /^Bearer ([!-~]{1,512})$/.exec(authorization);
      const key = match ? await deps.authenticateApiKey(match[1]!) : null;
      if (!key) throw badBearer();
      request.principal = { kind: 'api_key', key };
      return;
    }
    const raw = request.cookies[SESSION_COOKIE];
    if (raw) {
      const unsigned = request.unsignCookie(raw);
      if (unsigned.valid && unsigned.value) {
        request.principal = await deps.resolveSession(unsigned.value);
      }
    }
    if (isStateChanging(request)) checkCsrf(request, origin);
  });
}

const LINK_PAGES = /^\/(?:sign_in|sign_up|confirm|reset_password|accept_invitation)(?:[/?#]|$)/;
const SECRET_IN_QUERY =
  /(?:^|&)(?:code|token|secret|password|nonce)=|(?:emk|emkey-enroll|embs|emcf|empr|eminv|emss)-/i;

/**
 * Secrets travel in the URL fragment and are POSTed in the body, never in a
 * query string (which proxies and logs keep). A request that puts one there is
 * refused without being acted on.
 */
function refuseSecretInQuery(request: FastifyRequest): void {
  const cut = request.url.indexOf('?');
  if (cut === -1) return;
  const path = request.url.slice(0, cut);
  if (!path.startsWith('/api/v1/') && !LINK_PAGES.test(path)) return;
  if (SECRET_IN_QUERY.test(request.url.slice(cut + 1))) {
    throw new InvalidParamsError(
      'Secrets are never accepted in the URL query; links carry them after "#" and the page POSTs them.',
      'secret_in_url',
    );
  }
}

const MCP_ENDPOINT = /^\/(?:api\/mcp\/rpc|mcp)(?:[?#]|$)/;
const isRestApi = (request: FastifyRequest) => request.url.startsWith('/api/v1/');
/** A REST request that may change something (CSRF rule, per-credential budgets). */
export const isStateChanging = (request: FastifyRequest) =>
  STATE_CHANGING.has(request.method) && isRestApi(request);
const isApiKeyBearer = (authorization: string) => authorization.startsWith('Bearer emk-');

/**
 * Browser requests must come from our own origin: the Origin header (sent by
 * every browser on POST) must match, or, when a client sends no Origin, our
 * custom header must be present (a cross-site form cannot set it without CORS).
 */
function checkCsrf(request: FastifyRequest, origin: string): void {
  const sent = request.headers.origin;
  if (sent !== undefined) {
    if (sent !== origin) throw new ForbiddenError('Cross-site request refused.', 'csrf');
    return;
  }
  if (request.headers[CSRF_HEADER] !== '1') {
    throw new ForbiddenError('Cross-site request refused.', 'csrf');
  }
}

export function setSessionCookie(reply: FastifyReply, token: string, secure: boolean): void {
  reply.setCookie(SESSION_COOKIE, token, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure });
}

export function setSignInNonceCookie(reply: FastifyReply, value: string, secure: boolean): void {
  reply.setCookie(SIGN_IN_NONCE_COOKIE, value, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/api/v1/sign_in',
    maxAge: SIGN_IN_NONCE_TTL_S,
  });
}

export function clearSignInNonceCookie(reply: FastifyReply, secure: boolean): void {
  reply.clearCookie(SIGN_IN_NONCE_COOKIE, {
    path: '/api/v1/sign_in',
    httpOnly: true,
    sameSite: 'lax',
    secure,
  });
}

export function readSignInNonceCookie(request: FastifyRequest): string | null {
  const raw = request.cookies[SIGN_IN_NONCE_COOKIE];
  if (!raw) return null;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid ? unsigned.value : null;
}

/** A fully signed-in person (MFA done when they have it). */
export function requireSession(
  request: FastifyRequest,
  options: { allowPendingMfa?: boolean } = {},
): SessionPrincipal {
  const principal = request.principal;
  if (principal?.kind !== 'session') throw new UnauthorizedError();
  if (!principal.mfaSatisfied && !options.allowPendingMfa) {
    throw new UnauthorizedError('Finish signing in with your second factor.');
  }
  return principal;
}

export function requirePrincipal(request: FastifyRequest): SessionPrincipal | KeyPrincipal {
  const principal = request.principal;
  if (!principal) throw new UnauthorizedError();
  if (principal.kind === 'session' && !principal.mfaSatisfied) {
    throw new UnauthorizedError('Finish signing in with your second factor.');
  }
  return principal;
}

/** The request's audit context, including how its caller authenticated. */
export function contextOf(request: FastifyRequest): RequestContext {
  const principal = request.principal;
  if (principal?.kind === 'session') {
    return requestContext(request, {
      authMethod: `session:${principal.authMethod}`,
      mfa: principal.mfaVerified,
    });
  }
  if (principal?.kind === 'api_key') {
    return requestContext(request, { authMethod: `api_key:${principal.key.kind}`, mfa: false });
  }
  return requestContext(request);
}
