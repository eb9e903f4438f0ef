import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { resolveAccountAccess } from './access/resolve.js';
import { accountQueries } from './accounts/queries.js';
import { registerIdentity } from './accounts/register-identity.js';
import { approvalExpiryJob } from './approvals/sweep.js';
import { registerAuditRoutes } from './audit/routes.js';
import { identityCleanupJob } from './auth/cleanup.js';
import { signInFailureAuditJob } from './auth/sign-in-failures.js';
import { createNotifyBus } from './bus/notify-bus.js';
import { catalogQueries } from './catalog/queries.js';
import type { ServerConfig } from './config.js';
import { type Clock, systemClock } from './core/clock.js';
import type { Storage } from './db/database.js';
import { createOutageLog } from './db/outage-log.js';
import { fleetCleanupJob } from './fleet/cleanup.js';
import { registerFleet } from './fleet/register.js';
import type { RunHooks } from './fleet/run-hooks.js';
import { installAccountAccess } from './http/account-routes.js';
import { installCredentialLimits } from './http/credential-limits.js';
import { installErrorHandling } from './http/errors.js';
import { registerHealthRoutes } from './http/health-routes.js';
import { installInputHygiene } from './http/input-hygiene.js';
import { loggerOptions, requestIdOptions } from './http/logging.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { createJobs } from './jobs/periodic.js';
import { personAudit } from './members/person-audit.js';
import { registerPolicy } from './policy/register.js';
import { registerRuns } from './runs/register.js';
import { createRunRelease } from './runs/release.js';
import { createRunHooks } from './runs/runner-hooks.js';
import { dispatchTimeoutJob } from './runs/sweep.js';

/** How often each node looks for due mail (it is also woken after each commit that queues some). */
const MAIL_DELIVERY_INTERVAL_MS = 2_000;

export interface AppDependencies {
  config: ServerConfig;
  storage: Storage;
  clock?: Clock;
  /** Where logs go; defaults to stdout. Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  /** Tests may stand in for the runs domain behind the runner gateway. */
  runHooks?: RunHooks;
}

/** Assembles the HTTP application; listening is the caller's job. */
export async function createApp({
  config,
  storage,
  clock = systemClock,
  logStream,
  runHooks,
}: AppDependencies): Promise<FastifyInstance> {
  const outage = createOutageLog();
  const app = Fastify({
    logger: {
      ...loggerOptions(config.logLevel),
      hooks: { logMethod: outage.logMethod },
      ...(logStream ? { stream: logStream } : {}),
    },
    ...requestIdOptions,
    trustProxy: config.trustProxy === false ? false : config.trustProxy,
    bodyLimit: 1024 * 1024,
    ...(config.tls
      ? { https: { cert: config.tls.cert, key: config.tls.key, minVersion: 'TLSv1.2' as const } }
      : {}),
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const stopWatching = storage.onConnect(() => outage.connected(app.log));
  app.addHook('onClose', async () => stopWatching());
  installErrorHandling(app);
  installInputHygiene(app);
  installCredentialLimits(app, { db: storage.db, clock, limits: config.rateLimits });
  await installSecurityHeaders(app, config.secureCookies);
  // Off by default; routes opt in with `config: { rateLimit: {...} }`.
  await app.register(rateLimit, { global: false });
  registerHealthRoutes(app, storage.db);
  installAccountAccess(app, (principal, slug) =>
    resolveAccountAccess(storage.db, principal, slug, clock),
  );
  const bus = createNotifyBus(storage, app.log);
  app.addHook('onClose', () => bus.close());
  await registerIdentity(app, { config, storage, clock, bus });
  registerAuditRoutes(app, {
    db: storage.db,
    clock,
    baseUrl: config.baseUrl,
    signingKey: config.signingKey,
  });
  await registerFleet(app, {
    config,
    storage,
    clock,
    bus,
    runHooks:
      runHooks ??
      createRunHooks({
        db: storage.db,
        bus,
        clock,
        secretKey: config.secretKey,
        sentDeadlineMs: config.timing.sentDeadlineMs,
        log: app.log,
      }),
  });
  const { approvals } = registerPolicy(app, {
    config,
    storage,
    clock,
    bus,
    outbox: app.mailOutbox,
    runRelease: createRunRelease({ bus, clock }),
  });
  registerRuns(app, { config, storage, clock, bus, approvals });

  const jobs = createJobs({ db: storage.db, log: app.log });
  jobs.start(app.mailOutbox.deliveryJob(MAIL_DELIVERY_INTERVAL_MS));
  jobs.start(identityCleanupJob({ clock }));
  jobs.start(signInFailureAuditJob({ personAudit }));
  jobs.start(fleetCleanupJob({ clock, accounts: accountQueries, catalog: catalogQueries }));
  jobs.start(approvalExpiryJob({ approvals, intervalMs: config.timing.sweepIntervalMs }));
  jobs.start(dispatchTimeoutJob({ bus, clock, timing: config.timing }));
  // Added last so it runs first on close (Fastify runs onClose hooks in reverse): the
  // jobs stop before the bus and the mail transport they use are closed.
  app.addHook('onClose', () => jobs.stop());
  return app;
}
