import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GROUP_NAME, parseInput } from '../core/parse-input.js';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import type { FleetService } from './service.js';

export interface FleetRouteDeps {
  fleet: FleetService;
}

/** `:id` names a runner by its id, its ref or its unique name. */
const idParam = z.object({ slug: z.string(), id: z.string().min(1).max(300) });

/** `/api/v1/accounts/:slug/runners…`: the fleet as people and automation see and manage it. */
export function registerFleetRoutes(app: FastifyInstance, deps: FleetRouteDeps): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);
  const { fleet } = deps;
  const runnerId = (params: unknown) => parseInput(idParam, params).id;

  route({
    method: 'GET',
    path: '/runners',
    permission: 'fleet.view',
    handler: async (_request, access) => ({ runners: await fleet.listRunners(access) }),
  });
  route({
    method: 'GET',
    path: '/runners/:id',
    permission: 'fleet.view',
    handler: async (request, access) => ({
      runner: await fleet.getRunner(access, runnerId(request.params)),
    }),
  });
  route({
    method: 'PATCH',
    path: '/runners/:id',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const id = runnerId(request.params);
      const body = parseInput(
        z.strictObject({ group: z.string().regex(GROUP_NAME, 'lowercase letters, digits, . _ -') }),
        request.body,
      );
      await fleet.changeGroup(access, id, body.group, context);
      return { runner: await fleet.getRunner(access, id) };
    },
  });
  route({
    method: 'POST',
    path: '/runners/:id/disable',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      await fleet.disable(access, runnerId(request.params), context);
    },
  });
  route({
    method: 'POST',
    path: '/runners/:id/enable',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      await fleet.enable(access, runnerId(request.params), context);
    },
  });
  route({
    method: 'POST',
    path: '/runners/:id/awaiting-reenrollment',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const body = parseInput(
        z.strictObject({ awaiting: z.boolean().default(true) }),
        request.body,
      );
      await fleet.setAwaitingReenrollment(access, runnerId(request.params), body.awaiting, context);
    },
  });
  route({
    method: 'DELETE',
    path: '/runners/:id',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      await fleet.remove(access, runnerId(request.params), context);
    },
  });
}
