import type { FastifyInstance } from 'fastify';
import { DatabaseUnavailableError } from './errors.js';

/** `/healthz` answers while the process lives; `/readyz` only while the database answers `ping`. */
export function registerHealthRoutes(app: FastifyInstance, ping: () => Promise<void>): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      await ping();
    } catch (error) {
      throw new DatabaseUnavailableError('The database did not answer in time.', error);
    }
    return { status: 'ready' };
  });
}
