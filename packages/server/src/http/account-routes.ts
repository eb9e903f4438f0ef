import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ForbiddenError } from '../core/errors.js';
import type { Database } from '../db/schema.js';
import { type AccountAccess, requirePermission, resolveAccountAccess } from '../members/access.js';
import type { Permission } from '../members/roles.js';
import { contextOf, requirePrincipal } from './auth.js';
import type { CredentialBudget } from './credential-limits.js';

export interface AccountRouteSpec {
  method: HTTPMethods;
  /** Below `/api/v1/accounts/:slug`, e.g. `/members/:id`. */
  path: string;
  permission: Permission;
  /** People only: API keys get 403 (minting keys, managing the team…). */
  sessionOnly?: boolean;
  status?: number;
  /** The per-credential budget a state-changing route spends (default `writes`). */
  budget?: CredentialBudget;
  handler(
    request: FastifyRequest,
    access: AccountAccess,
    context: RequestContext,
    /** For routes that stream (SSE): a hijacked reply is left alone. */
    reply: FastifyReply,
  ): Promise<unknown>;
}

const registries = new WeakMap<FastifyInstance, AccountRouteSpec[]>();

/** Every account-scoped route registered on this app (the role × endpoint matrix test reads it). */
export function accountRoutesOf(app: FastifyInstance): readonly AccountRouteSpec[] {
  return registries.get(app) ?? [];
}

/**
 * Registers a route under /api/v1/accounts/:slug: resolves the caller's
 * membership (404 for anything they cannot see), then checks the permission
 * (403) before the handler runs.
 */
export function registerAccountRoute(
  app: FastifyInstance,
  deps: { db: Kysely<Database>; clock: Clock },
  spec: AccountRouteSpec,
): void {
  const registry = registries.get(app) ?? [];
  registries.set(app, registry);
  registry.push(spec);
  app.route({
    method: spec.method,
    url: `/api/v1/accounts/:slug${spec.path}`,
    ...(spec.budget ? { config: { credentialBudget: spec.budget } } : {}),
    handler: async (request, reply) => {
      const principal = requirePrincipal(request);
      const { slug } = request.params as { slug: string };
      const access = await resolveAccountAccess(deps.db, principal, slug, deps.clock);
      if (spec.sessionOnly && principal.kind !== 'session') {
        throw new ForbiddenError('API keys cannot do this; sign in to the console.', 'forbidden');
      }
      requirePermission(access, spec.permission);
      const result = await spec.handler(request, access, contextOf(request), reply);
      if (reply.sent) return reply;
      reply.status(spec.status ?? 200);
      return result ?? { ok: true };
    },
  });
}
