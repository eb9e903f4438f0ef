import { sql } from 'kysely';
import { ConfigError } from '../core/config-error.js';
import { openStorage, type Storage, type StorageTarget } from './database.js';

/** Opens storage and proves it answers; an unreachable database is an operator problem. */
export async function openCheckedStorage(target: StorageTarget): Promise<Storage> {
  const storage = await openStorage(target);
  try {
    await sql`select 1`.execute(storage.db);
  } catch (error) {
    await storage.close().catch(() => {});
    throw new ConfigError(
      `cannot reach the database (${describeStorage(target)}): ${reasonOf(error)}`,
    );
  }
  return storage;
}

/** Where the data lives, for logs and errors: never the password a URL may carry. */
export function describeStorage(target: StorageTarget): string {
  if (target.kind === 'pglite') return `PGlite in ${target.dataDir ?? 'memory'}`;
  const url = new URL(target.url);
  return `PostgreSQL at ${url.hostname || 'socket'}:${url.port || 5432}${url.pathname}`;
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}
