import { replaceForbidden } from '@emisar/protocol';
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../core/context.js';

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
