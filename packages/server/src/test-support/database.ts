import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createNotifyBus, type NotifyBus } from '../bus/notify-bus.js';
import { openStorage, type Storage, type StorageTarget } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';

/** Tests run on PGlite unless DATABASE_URL names a PostgreSQL server. */
export const onPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase {
  target: StorageTarget;
  /** A URL for this test's own database (PostgreSQL only). */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test file: a new in-memory PGlite, or a new
 * PostgreSQL database created next to the one DATABASE_URL names.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    return { target: { kind: 'pglite', dataDir: undefined }, url: undefined, drop: async () => {} };
  }
  const admin = new URL(base);
  const name = `${admin.pathname.slice(1)}_t${randomBytes(6).toString('hex')}`.slice(0, 63);
  await withAdminClient(base, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    target: { kind: 'postgres', url: url.toString() },
    url: url.toString(),
    drop: () =>
      withAdminClient(base, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      ).then(() => {}),
  };
}

async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestStorage extends Storage {
  database: TestDatabase;
  /** A notify bus on this storage, opened on first use and closed with it. */
  readonly bus: NotifyBus;
}

/** A migrated storage on a fresh database; `close()` also closes the bus and drops the database. */
export async function openTestStorage(): Promise<TestStorage> {
  const database = await createTestDatabase();
  const storage = await openStorage(database.target);
  await migrateToLatest(storage.db);
  let bus: NotifyBus | undefined;
  const testStorage: TestStorage = {
    ...storage,
    database,
    get bus() {
      bus ??= createNotifyBus(testStorage);
      return bus;
    },
    close: async () => {
      await bus?.close();
      await storage.close();
      await database.drop();
    },
  };
  return testStorage;
}
