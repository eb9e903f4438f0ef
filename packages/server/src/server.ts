import type { FastifyInstance } from 'fastify';
import { createApp } from './app.js';
import { auditJobs } from './audit/scheduler.js';
import type { ServerConfig } from './config.js';
import { systemClock } from './core/clock.js';
import { describeStorage, openCheckedStorage } from './db/checked-storage.js';
import type { Storage } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createJobs } from './jobs/periodic.js';

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const storage = await openCheckedStorage(config.storage);
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
      { url, storage: describeStorage(config.storage) },
      `emisar control plane ready at ${config.baseUrl} (listening on ${url}, storage: ${describeStorage(config.storage)})`,
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
