import type { PGlite, Transaction } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { Mutex } from './mutex.js';

/**
 * Kysely dialect for embedded PGlite. PGlite is a single session, so the one
 * connection is handed to one caller at a time: a statement issued outside a
 * transaction waits until that transaction ends instead of running inside it
 * (and being rolled back with it). Transactions go through `pglite.transaction`.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  readonly #mutex = new Mutex();
  readonly #connection: PGliteConnection;

  constructor(private readonly pglite: PGlite) {
    this.#connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {
    await this.pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async beginTransaction(): Promise<void> {
    await this.#connection.begin();
  }

  async commitTransaction(): Promise<void> {
    await this.#connection.end('commit');
  }

  async rollbackTransaction(): Promise<void> {
    await this.#connection.end('rollback');
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await runRaw(connection, `savepoint ${quoteIdent(name)}`);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await runRaw(connection, `rollback to savepoint ${quoteIdent(name)}`);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await runRaw(connection, `release savepoint ${quoteIdent(name)}`);
  }

  async destroy(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

async function runRaw(connection: DatabaseConnection, text: string): Promise<void> {
  await connection.executeQuery(CompiledQuery.raw(text));
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

type TransactionEnd = 'commit' | 'rollback';

class PGliteConnection implements DatabaseConnection {
  #tx: Transaction | undefined;
  #finish: ((how: TransactionEnd) => void) | undefined;
  #settled: Promise<unknown> | undefined;

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const target = this.#tx ?? this.pglite;
    const result = await target.query<R>(query.sql, query.parameters as unknown[], {
      rowMode: 'object',
    });
    return {
      rows: result.rows ?? [],
      numAffectedRows: result.affectedRows != null ? BigInt(result.affectedRows) : undefined,
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is deliberately unsupported.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not stream; page with keyset queries instead');
  }

  begin(): Promise<void> {
    return new Promise<void>((begun, failed) => {
      this.#settled = this.pglite
        .transaction(async (tx) => {
          this.#tx = tx;
          const how = await new Promise<TransactionEnd>((resolve) => {
            this.#finish = resolve;
            begun();
          });
          if (how === 'rollback') await tx.rollback();
        })
        .catch((error: unknown) => {
          failed(error);
          throw error;
        });
      // The begin promise reports start-up failures; the end() caller reports the rest.
      this.#settled.catch(() => {});
    });
  }

  async end(how: TransactionEnd): Promise<void> {
    const finish = this.#finish;
    const settled = this.#settled;
    this.#tx = undefined;
    this.#finish = undefined;
    this.#settled = undefined;
    finish?.(how);
    if (how === 'commit') await settled;
    else await settled?.catch(() => {});
  }
}
