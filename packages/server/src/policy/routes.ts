import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import type { PolicyService, ScopeRef } from './service.js';

export interface PolicyRouteDeps {
  policies: PolicyService;
}

const SCOPES: { path: string; target(request: FastifyRequest): ScopeRef }[] = [
  { path: '/policies/account', target: () => ({ scope: 'account', ref: '' }) },
  {
    path: '/policies/group/:group',
    target: (request) => ({ scope: 'group', ref: (request.params as { group: string }).group }),
  },
  {
    path: '/policies/runner/:runnerId',
    target: (request) => ({
      scope: 'runner',
      ref: (request.params as { runnerId: string }).runnerId,
    }),
  },
];

/** The policy editor API and the agent stop switch. */
export function registerPolicyRoutes(app: FastifyInstance, deps: PolicyRouteDeps): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);
  const { policies } = deps;

  route({
    method: 'GET',
    path: '/policies',
    permission: 'fleet.view',
    handler: (_request, access) => policies.list(access),
  });
  for (const { path, target } of SCOPES) {
    route({
      method: 'GET',
      path,
      permission: 'fleet.view',
      handler: (request, access) => policies.get(access, target(request)),
    });
    route({
      method: 'PUT',
      path,
      permission: 'fleet.manage',
      sessionOnly: true,
      handler: (request, access, context) =>
        policies.put(access, target(request), request.body, context),
    });
    if (path !== '/policies/account') {
      route({
        method: 'DELETE',
        path,
        permission: 'fleet.manage',
        sessionOnly: true,
        handler: (request, access, context) => policies.remove(access, target(request), context),
      });
    }
  }
  route({
    method: 'POST',
    path: '/policies/preview',
    permission: 'fleet.view',
    handler: (request, access) => policies.preview(access, request.body),
  });
  route({
    method: 'PUT',
    path: '/settings/agent-stop',
    permission: 'account.manage',
    sessionOnly: true,
    handler: (request, access, context) => policies.setAgentStop(access, request.body, context),
  });
}
