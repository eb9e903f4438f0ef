import type { Kysely } from 'kysely';
import { findLiveAccountBySlug } from '../accounts/index.js';
import { loadConfig, type ServerConfig } from '../config.js';
import type { AccountAccess } from '../core/access.js';
import { systemActor } from '../core/actor.js';
import { ConfigError } from '../core/config-error.js';
import { systemContext } from '../core/context.js';
import { DomainError } from '../core/errors.js';
import { ROLE_PERMISSIONS } from '../core/roles.js';
import { openCheckedStorage } from '../db/checked-storage.js';
import type { Storage } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';
import { activeOwners } from '../members/index.js';

export const cliContext = systemContext('cli');
export const cliActor = systemActor('cli');

/** Opens the configured database (migrating it first), runs the action, closes it. */
export async function withDatabase<T>(
  action: (db: Kysely<Database>, config: ServerConfig, storage: Storage) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(process.env);
  const storage = await openCheckedStorage(config.storage);
  try {
    await migrateToLatest(storage.db);
    return await action(storage.db, config, storage);
  } catch (error) {
    // Bad input is a usage problem (exit 2); the message is already written for people.
    if (error instanceof DomainError && error.kind === 'invalid')
      throw new ConfigError(error.message);
    throw error;
  } finally {
    await storage.close();
  }
}

/**
 * The CLI's access to a workspace: the operator acts with the reach of its first active
 * owner, and its audit events name the CLI.
 */
export async function operatorAccess(db: Kysely<Database>, slug: string): Promise<AccountAccess> {
  const account = await accountBySlug(db, slug);
  const owner = (await activeOwners(db, account.id))[0];
  if (!owner) throw new Error(`${slug} has no active owner`);
  return {
    account,
    membership: owner,
    permissions: ROLE_PERMISSIONS.owner,
    principal: { kind: 'operator' },
    actor: cliActor,
  };
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

/** For `.catch`: a not_found from a service becomes a line naming what was not found. */
export function notFound(what: string) {
  return (error: unknown): never => {
    if (error instanceof DomainError && error.kind === 'not_found') {
      throw new Error(`no ${what} in this workspace`);
    }
    throw error;
  };
}
