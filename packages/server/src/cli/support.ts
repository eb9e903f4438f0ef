import type { Kysely } from 'kysely';
import { findLiveAccountBySlug } from '../accounts/index.js';
import { loadConfig, type ServerConfig } from '../config.js';
import { systemActor } from '../core/actor.js';
import { ConfigError } from '../core/config-error.js';
import { systemContext } from '../core/context.js';
import { DomainError } from '../core/errors.js';
import { openCheckedStorage } from '../db/checked-storage.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';

export const cliContext = systemContext('cli');
export const cliActor = systemActor('cli');

/** Opens the configured database (migrating it first), runs the action, closes it. */
export async function withDatabase<T>(
  action: (db: Kysely<Database>, config: ServerConfig) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(process.env);
  const storage = await openCheckedStorage(config.storage);
  try {
    await migrateToLatest(storage.db);
    return await action(storage.db, config);
  } catch (error) {
    // Bad input is a usage problem (exit 2); the message is already written for people.
    if (error instanceof DomainError && error.kind === 'invalid')
      throw new ConfigError(error.message);
    throw error;
  } finally {
    await storage.close();
  }
}

/** `--json` prints one JSON object; otherwise readable lines. Secrets are printed once, here. */
export function print(
  json: boolean | undefined,
  value: Record<string, unknown>,
  lines: string[],
): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${lines.join('\n')}\n`);
}

export function positiveInt(name: string) {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ConfigError(`${name} must be a positive integer`);
    return value;
  };
}

export async function accountBySlug(db: Kysely<Database>, slug: string) {
  const account = await findLiveAccountBySlug(db, slug);
  if (!account) throw new Error(`no account "${slug}"`);
  return account;
}

/** `now + count × unitMs`, or nothing when no count was given (the default lifetime applies). */
export function expiresIn(count: number | undefined, unitMs: number, now: Date) {
  return count ? { expiresAt: new Date(now.getTime() + count * unitMs) } : {};
}
