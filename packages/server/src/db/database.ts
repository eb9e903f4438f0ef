import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { DatabaseTimeoutError } from './availability.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';
import { PG_TYPE, parseInt8, parseTimestamp } from './type-parsers.js';

export type StorageTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string | undefined /* undefined = in memory */ };

export interface Storage {
  readonly kind: StorageTarget['kind'];
  readonly db: Kysely<Database>;
  /** The embedded instance, for LISTEN/NOTIFY; absent on PostgreSQL. */
  readonly pglite: PGlite | undefined;
  /** Connection settings for a dedicated LISTEN connection; absent on PGlite. */
  readonly postgresConfig: pg.ClientConfig | undefined;
  /**
   * Calls `listener` whenever a new database connection opens (PostgreSQL; PGlite
   * has none to lose) until the returned function is called.
   */
  onConnect(listener: () => void): () => void;
  close(): Promise<void>;
}

const pgliteParsers = {
  [PG_TYPE.INT8]: parseInt8,
  [PG_TYPE.TIMESTAMP]: parseTimestamp,
  [PG_TYPE.TIMESTAMPTZ]: parseTimestamp,
};

export function postgresClientConfig(url: string): pg.ClientConfig {
  return {
    connectionString: url,
    // An unreachable server (or a pool with no free connection) fails the call, which
    // answers 503, instead of holding it; idle connections to a vanished server are noticed.
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    options: '-c TimeZone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        const parser = pgliteParsers[oid as keyof typeof pgliteParsers];
        if (parser && format !== 'binary') return parser;
        return pg.types.getTypeParser(oid, format);
      }) as typeof pg.types.getTypeParser,
    },
  };
}

export async function openStorage(target: StorageTarget): Promise<Storage> {
  if (target.kind === 'postgres') {
    const config = postgresClientConfig(target.url);
    const pool = new pg.Pool({ ...config, max: 10, idleTimeoutMillis: 30_000 });
    // A connection that fails must not crash the process: idle ones are reported to the
    // pool's listener, busy ones to their own (their query is rejected too).
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      kind: 'postgres',
      db,
      pglite: undefined,
      postgresConfig: config,
      onConnect(listener) {
        const onConnect = () => listener();
        pool.on('connect', onConnect);
        return () => pool.off('connect', onConnect);
      },
      close: () => db.destroy(),
    };
  }
  let dataDir: string | undefined;
  if (target.dataDir !== undefined) {
    dataDir = path.join(target.dataDir, 'pglite');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  }
  const pglite = new PGlite({ ...(dataDir ? { dataDir } : {}), parsers: pgliteParsers });
  await pglite.waitReady;
  await pglite.exec(`SET TIME ZONE 'UTC'`);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    db,
    pglite,
    postgresConfig: undefined,
    onConnect: () => () => {},
    close: () => db.destroy(),
  };
}

/** `SELECT 1` within the deadline, else rejects with why not; used by /readyz. */
export async function pingDatabase(db: Kysely<Database>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([sql`select 1 as ok`.execute(db), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
