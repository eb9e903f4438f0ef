import type { FastifyInstance } from 'fastify';
import { accountQueries } from '../accounts/queries.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import { loadPublishedCatalog } from '../catalog/published.js';
import { catalogQueries } from '../catalog/queries.js';
import { registerCatalogRoutes } from '../catalog/routes.js';
import { createCatalogService } from '../catalog/service.js';
import type { ServerConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { createEnrollmentService } from './enrollment.js';
import { createRunnerGateway, type RunnerGateway } from './gateway.js';
import { fleetQueries } from './queries.js';
import { registerFleetRoutes } from './routes.js';
import type { RunHooks } from './run-hooks.js';
import { createRunnerEndpointBudget } from './runner-budget.js';
import { registerRunnerRoutes } from './runner-routes.js';
import { createFleetService } from './service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This node's runner sockets (their error counts, local runner ids). */
    runnerGateway: RunnerGateway;
  }
}

export interface FleetOptions {
  config: Pick<ServerConfig, 'timing' | 'catalogFile' | 'rateLimits'>;
  storage: Pick<Storage, 'db'>;
  clock: Clock;
  bus: NotifyBus;
  /** The runs domain's side of the gateway (createRunHooks in runs/runner-hooks.ts). */
  runHooks: RunHooks;
}

/**
 * The fleet and catalog domains: runner enrollment and tokens, the runner
 * WebSocket gateway, and the runner and pack-trust REST routes.
 */
export async function registerFleet(
  app: FastifyInstance,
  { config, storage, clock, bus, runHooks }: FleetOptions,
): Promise<{ gateway: RunnerGateway }> {
  const { db } = storage;
  const published = await loadPublishedCatalog(config.catalogFile);
  const enrollment = createEnrollmentService({
    db,
    clock,
    bus,
    accounts: accountQueries,
    tokenTtlMs: config.timing.runnerTokenTtlMs,
  });
  const gateway = createRunnerGateway({
    db,
    clock,
    bus,
    runHooks,
    catalog: published,
    timing: config.timing,
    log: app.log,
  });
  await gateway.start();
  app.decorate('runnerGateway', gateway);
  await registerRunnerRoutes(app, {
    enrollment,
    budget: createRunnerEndpointBudget({ db, clock }),
    gateway,
    limits: config.rateLimits,
  });
  const fleet = createFleetService({
    db,
    clock,
    bus,
    accounts: accountQueries,
    catalog: catalogQueries,
  });
  registerFleetRoutes(app, { fleet });
  const catalog = createCatalogService({ db, clock, bus, runners: fleetQueries });
  registerCatalogRoutes(app, { catalog });
  return { gateway };
}
