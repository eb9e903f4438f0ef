import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import type { Clock } from './core/clock.js';
import { pingDatabase, type Storage } from './db/database.js';
import { createOutageLog } from './db/outage-log.js';
import { installCredentialLimits } from './http/credential-limits.js';
import { installErrorHandling } from './http/errors.js';
import { registerHealthRoutes } from './http/health-routes.js';
import { installInputHygiene } from './http/input-hygiene.js';
import { loggerOptions, requestIdOptions } from './http/logging.js';
import { installSecurityHeaders } from './http/security-headers.js';

/** How long `/readyz` waits for the database before answering 503. */
const READY_TIMEOUT_MS = 2_000;

export interface HttpAppOptions {
  config: ServerConfig;
  storage: Storage;
  clock: Clock;
  /** Where logs go; defaults to stdout. */
  logStream?: NodeJS.WritableStream;
}

/** Fastify with the plumbing every route relies on: logging, TLS, errors, input rules, limits, headers. */
export async function createHttpApp({
  config,
  storage,
  clock,
  logStream,
}: HttpAppOptions): Promise<FastifyInstance> {
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
  registerHealthRoutes(app, () => pingDatabase(storage.db, READY_TIMEOUT_MS));
  return app;
}
