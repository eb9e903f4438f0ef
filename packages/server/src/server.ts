import type { FastifyInstance } from 'fastify';
import { createApp } from './app.js';
import type { ServerConfig } from './config.js';
import { describeStorage, openCheckedStorage } from './db/checked-storage.js';
import type { Storage } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';

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
    const app = await createApp({ config, storage, auditSweeps: true });
    await app.listen({ port: config.port, host: config.host });
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
