import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import type { createGrantService } from './grants.js';
import type { ApprovalService } from './service.js';

export interface ApprovalRouteDeps {
  approvals: ApprovalService;
  grants: ReturnType<typeof createGrantService>;
}

const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

/** Approvals (list, read, decide) and standing grants (list, read, revoke). */
export function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRouteDeps): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);
  const { approvals, grants } = deps;

  route({
    method: 'GET',
    path: '/approvals',
    permission: 'fleet.view',
    handler: (request, access) => approvals.listApprovals(access, request.query),
  });
  route({
    method: 'GET',
    path: '/approvals/:id',
    permission: 'fleet.view',
    handler: async (request, access) => ({
      approval: await approvals.getApproval(access, idOf(request)),
    }),
  });
  route({
    method: 'POST',
    path: '/approvals/:id/decisions',
    permission: 'approvals.decide',
    sessionOnly: true,
    handler: (request, access, context) =>
      approvals.decide(access, idOf(request), request.body, context),
  });

  route({
    method: 'GET',
    path: '/grants',
    permission: 'fleet.view',
    handler: (request, access) =>
      grants.list(
        access,
        parseInput(z.object({ live: z.enum(['true', 'false']).optional() }), request.query).live ===
          'true'
          ? { live: true }
          : {},
      ),
  });
  route({
    method: 'GET',
    path: '/grants/:id',
    permission: 'fleet.view',
    handler: (request, access) => grants.get(access, idOf(request)),
  });
  route({
    method: 'DELETE',
    path: '/grants/:id',
    permission: 'grants.revoke',
    sessionOnly: true,
    handler: (request, access, context) => grants.revoke(access, idOf(request), context),
  });
}
