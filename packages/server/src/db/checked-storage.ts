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
    throw new ConfigError(databaseFailure(error, target));
  }
  return storage;
}

/** Where the data lives, for logs and errors: never the password a URL may carry. */
export function describeStorage(target: StorageTarget): string {
  if (target.kind === 'pglite') return `PGlite in ${target.dataDir ?? 'memory'}`;
  const url = new URL(target.url);
  return `PostgreSQL at ${url.hostname || 'socket'}:${url.port || 5432}${url.pathname}`;
}

/** One line for a failed first query: what is wrong and what to do, never the password. */
export function databaseFailure(error: unknown, target: StorageTarget): string {
  const where = describeStorage(target);
  const code = (error as { code?: unknown }).code;
  if (target.kind === 'postgres') {
    const url = new URL(target.url);
    const name = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
    const user = decodeURIComponent(url.username) || 'your user';
    const host = url.hostname || 'localhost';
    const port = url.port || '5432';
    switch (code) {
      case '3D000':
        return `the database "${name}" does not exist (${where}): create it with \`createdb -h ${host} -p ${port} -U ${user} ${name}\`, or point DATABASE_URL at an existing one`;
      case '28P01':
      case '28000':
        return `PostgreSQL refused user "${user}" (${where}): authentication failed; check the user and password in DATABASE_URL`;
      case 'ECONNREFUSED':
        return `cannot reach the database (${where}): connection refused; start PostgreSQL there or fix the host and port in DATABASE_URL`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `cannot reach the database (${where}): the host "${host}" is not found; fix the host in DATABASE_URL`;
    }
  }
  return `cannot reach the database (${where}): ${reasonOf(error)}`;
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : '';
  if (typeof code === 'string') return message ? `${message} (${code})` : code;
  return message || 'unknown error';
}
