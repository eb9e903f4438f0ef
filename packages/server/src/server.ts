import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { createApp } from './app.js';
import { auditJobs } from './audit/scheduler.js';
import type { ServerConfig } from './config.js';
import { systemClock } from './core/clock.js';
import { ConfigError } from './core/config-error.js';
import { openStorage, type Storage } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createJobs } from './jobs/periodic.js';

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  url: string;
  close(): Promise<void>;
}

/** Opens storage and proves it answers; an unreachable database is an operator problem. */
export async function openCheckedStorage(config: ServerConfig): Promise<Storage> {
  const storage = await openStorage(config.storage);
  try {
    await sql`select 1`.execute(storage.db);
  } catch (error) {
    await storage.close().catch(() => {});
    throw new ConfigError(
      `cannot reach the database (${describeTarget(config)}): ${reasonOf(error)}`,
    );
  }
  return storage;
}

function describeTarget(config: ServerConfig): string {
  if (config.storage.kind === 'pglite') return `PGlite in ${config.dataDir}`;
  // Host, port and database only: the URL may carry a password.
  const url = new URL(config.storage.url);
  return `PostgreSQL at ${url.hostname || 'socket'}:${url.port || 5432}${url.pathname}`;
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const storage = await openCheckedStorage(config);
  try {
    await migrateToLatest(storage.db);
    const app = await createApp({ config, storage });
    await app.listen({ port: config.port, host: config.host });
    const sweeps = createJobs({ db: storage.db, log: app.log });
    for (const job of auditJobs({
      signingKey: config.signingKey,
      clock: systemClock,
      config: config.audit,
    })) {
      sweeps.start(job);
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const scheme = config.tls ? 'https' : 'http';
    const url = `${scheme}://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    app.log.info(
      { url, storage: describeTarget(config) },
      `emisar control plane ready at ${config.baseUrl} (listening on ${url}, storage: ${describeTarget(config)})`,
    );
    let closing: Promise<void> | undefined;
    return {
      app,
      storage,
      url,
      close: () => {
        closing ??= (async () => {
          await sweeps.stop();
          await app.close();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
}
