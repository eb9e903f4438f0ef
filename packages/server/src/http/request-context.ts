import { replaceForbidden } from '@emisar/protocol';
import type { FastifyRequest } from 'fastify';
import type { AuthMethod } from '../auth/tables.js';
import type { ApiKeyPrincipal } from '../credentials/api-keys.js';

/** A signed-in person, from the session cookie. */
export interface SessionPrincipal {
  kind: 'session';
  userId: string;
  email: string;
  sessionId: string;
  authMethod: AuthMethod;
  /** When the session last proved a primary factor (re-auth windows). */
  authenticatedAt: string;
  /** True when the user has no MFA, or this session proved a factor after mfa_enabled_at. */
  mfaSatisfied: boolean;
  /** The user has MFA enabled and this session proved it. */
  mfaVerified: boolean;
}

/** Automation with an API key (`Authorization: Bearer emk-…`). */
export interface KeyPrincipal {
  kind: 'api_key';
  key: ApiKeyPrincipal;
}

export type Principal = SessionPrincipal | KeyPrincipal;

/** What services need to know about the request that caused a change (audit context). */
export interface RequestContext {
  ip: string;
  userAgent: string | null;
  requestId: string;
  /** 'session:code', 'api_key', … or null for anonymous requests. */
  authMethod: string | null;
  mfa: boolean;
}

const USER_AGENT_MAX = 512;

export function requestContext(
  request: FastifyRequest,
  auth?: { authMethod: string; mfa: boolean },
): RequestContext {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    // Informational: kept even when odd, with what no text column accepts replaced.
    userAgent:
      typeof userAgent === 'string' ? replaceForbidden(userAgent.slice(0, USER_AGENT_MAX)) : null,
    requestId: request.id,
    authMethod: auth?.authMethod ?? null,
    mfa: auth?.mfa ?? false,
  };
}

/** For work not caused by an HTTP request (CLI, sweeps). */
export function systemContext(source: string): RequestContext {
  return { ip: '', userAgent: null, requestId: source, authMethod: source, mfa: false };
}
