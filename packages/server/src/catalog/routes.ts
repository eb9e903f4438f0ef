import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import type { CatalogService } from './service.js';

export interface CatalogRouteDeps {
  catalog: CatalogService;
}

const uuid = z.string().regex(UUID_PATTERN, 'not an id');
const versionParams = z.object({ slug: z.string(), id: uuid });
const candidateParams = z.object({ slug: z.string(), id: uuid, candidateId: uuid });

/** `/api/v1/accounts/:slug/packs…`: pack versions, candidates and trust decisions. */
export function registerCatalogRoutes(app: FastifyInstance, deps: CatalogRouteDeps): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);
  const { catalog } = deps;

  route({
    method: 'GET',
    path: '/packs',
    permission: 'fleet.view',
    handler: async (_request, access) => ({ pack_versions: await catalog.listVersions(access) }),
  });
  route({
    method: 'GET',
    path: '/packs/:id/candidates/:candidateId',
    permission: 'fleet.view',
    handler: async (request, access) => {
      const { id, candidateId } = parseInput(candidateParams, request.params);
      return { candidate: await catalog.candidateView(access, id, candidateId) };
    },
  });
  route({
    method: 'POST',
    path: '/packs/:id/candidates/:candidateId/trust',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id, candidateId } = parseInput(candidateParams, request.params);
      await catalog.trust(access, id, candidateId, context);
    },
  });
  route({
    method: 'POST',
    path: '/packs/:id/candidates/:candidateId/reject',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id, candidateId } = parseInput(candidateParams, request.params);
      await catalog.reject(access, id, candidateId, context);
    },
  });
  route({
    method: 'POST',
    path: '/packs/:id/revoke',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      await catalog.revoke(access, parseInput(versionParams, request.params).id, context);
    },
  });
  route({
    method: 'PUT',
    path: '/packs/:id/retirement-override',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(versionParams, request.params);
      const body = parseInput(z.strictObject({ override: z.boolean() }), request.body);
      await catalog.setRetirementOverride(access, id, body.override, context);
    },
  });
  route({
    method: 'DELETE',
    path: '/packs/:id',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      await catalog.remove(access, parseInput(versionParams, request.params).id, context);
    },
  });
}
