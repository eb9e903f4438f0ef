import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import type { Storage } from './db/database.js';
import { installErrorHandling } from './http/errors.js';
import { registerHealthRoutes } from './http/health-routes.js';
import { loggerOptions, requestIdOptions } from './http/logging.js';
import { installSecurityHeaders } from './http/security-headers.js';

export interface AppDependencies {
  config: ServerConfig;
  storage: Storage;
}

/** Assembles the HTTP application; listening is the caller's job. */
export async function createApp({ config, storage }: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
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
  installErrorHandling(app);
  await installSecurityHeaders(app, config.secureCookies);
  registerHealthRoutes(app, storage.db);
  return app;
}
