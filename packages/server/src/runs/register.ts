import type { FastifyInstance } from 'fastify';
import type { ApprovalService } from '../approvals/service.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { ServerConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { registerRunRoutes } from './routes.js';
import { createRunService, type RunService } from './service.js';

export interface RunsOptions {
  config: Pick<ServerConfig, 'secretKey' | 'timing'>;
  storage: Pick<Storage, 'db'>;
  clock: Clock;
  bus: NotifyBus;
  approvals: Pick<ApprovalService, 'openApprovalRequest' | 'cancelApprovalForRun'>;
}

/** Runs: the REST routes and the account event stream. */
export function registerRuns(
  app: FastifyInstance,
  { config, storage, clock, bus, approvals }: RunsOptions,
): { runs: RunService } {
  const { db } = storage;
  const runs = createRunService({ db, bus, clock, secretKey: config.secretKey, approvals });
  registerRunRoutes(app, { runs });
  return { runs };
}
