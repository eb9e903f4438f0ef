import type { FastifyInstance } from 'fastify';
import { createGrantService } from '../approvals/grants.js';
import { registerApprovalRoutes } from '../approvals/routes.js';
import type { RunRelease } from '../approvals/run-release.js';
import { type ApprovalService, createApprovalService } from '../approvals/service.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { ServerConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import type { MailOutbox } from '../mail/outbox.js';
import { registerPolicyRoutes } from './routes.js';
import { createPolicyService, type PolicyService } from './service.js';

export interface PolicyOptions {
  config: Pick<ServerConfig, 'baseUrl' | 'timing'>;
  storage: Pick<Storage, 'db'>;
  clock: Clock;
  bus: NotifyBus;
  outbox: MailOutbox;
  runRelease: RunRelease;
}

/**
 * Policy and approvals: the editor API and stop switch, approval requests,
 * decisions and grants. Returns the approval service the runs domain calls.
 */
export function registerPolicy(
  app: FastifyInstance,
  { config, storage, clock, bus, outbox, runRelease }: PolicyOptions,
): { approvals: ApprovalService; policies: PolicyService } {
  const { db } = storage;
  const approvals = createApprovalService({
    db,
    clock,
    bus,
    outbox,
    baseUrl: config.baseUrl,
    runRelease,
    approvalTtlMs: config.timing.approvalTtlMs,
  });
  const policies = createPolicyService({ db, clock });
  registerPolicyRoutes(app, { db, clock, policies });
  registerApprovalRoutes(app, { db, clock, approvals, grants: createGrantService({ db, clock }) });
  return { approvals, policies };
}
