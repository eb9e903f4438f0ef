import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { pingDatabase } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { DatabaseUnavailableError } from './errors.js';

const READY_TIMEOUT_MS = 2000;

export function registerHealthRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      await pingDatabase(db, READY_TIMEOUT_MS);
    } catch (error) {
      throw new DatabaseUnavailableError('The database did not answer in time.', error);
    }
    return { status: 'ready' };
  });
}
