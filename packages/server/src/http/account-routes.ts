import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import {
  type AccountAccess,
  keyKindCannot,
  type ResolveAccountAccess,
  requirePermission,
} from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import type { Permission } from '../core/roles.js';
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

declare module 'fastify' {
  interface FastifyInstance {
    /** How account routes learn who the caller is in the workspace (installed by the app). */
    resolveAccountAccess: ResolveAccountAccess;
  }
}

/** Gives every account-scoped route its access resolution; call before registering them. */
export function installAccountAccess(app: FastifyInstance, resolve: ResolveAccountAccess): void {
  app.decorate('resolveAccountAccess', resolve);
}

/** The caller's access to the workspace named by the request's `:slug`. */
export function accountAccessOf(request: FastifyRequest): Promise<AccountAccess> {
  const { slug } = request.params as { slug: string };
  return request.server.resolveAccountAccess(requirePrincipal(request), slug);
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
export function registerAccountRoute(app: FastifyInstance, spec: AccountRouteSpec): void {
  const registry = registries.get(app) ?? [];
  registries.set(app, registry);
  registry.push(spec);
  app.route({
    method: spec.method,
    url: `/api/v1/accounts/:slug${spec.path}`,
    ...(spec.budget ? { config: { credentialBudget: spec.budget } } : {}),
    handler: async (request, reply) => {
      const access = await accountAccessOf(request);
      if (spec.sessionOnly && access.principal.kind === 'api_key') {
        throw keyKindCannot(access.principal);
      }
      requirePermission(access, spec.permission);
      const result = await spec.handler(request, access, contextOf(request), reply);
      if (reply.sent) return reply;
      reply.status(spec.status ?? 200);
      return result ?? { ok: true };
    },
  });
}
