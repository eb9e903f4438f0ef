import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { UsersTable } from './tables.js';

export type UserRow = Selectable<UsersTable>;

/** Emails are case-insensitive; we keep them lowercased and trimmed. */
export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .toLowerCase()
  .pipe(z.email({ message: 'Enter a valid email address.' }));

export const fullNameSchema = z.string().trim().min(1).max(120);

export function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export function findUserById(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The user with this (normalised) email, created unconfirmed when new. One
 * statement either way (an invitation costs the same for a new address as for
 * a registered one); `xmax = 0` holds only for a freshly inserted row.
 */
export async function findOrCreateUser(
  trx: Kysely<Database>,
  email: string,
  fullName: string | null,
): Promise<{ user: UserRow; created: boolean }> {
  const { created, ...user } = await trx
    .insertInto('users')
    .values({ email, full_name: fullName })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doUpdateSet({ email: sql`users.email` }))
    .returningAll()
    .returning(sql<boolean>`xmax = 0`.as('created'))
    .executeTakeFirstOrThrow();
  return { user, created };
}

export function usersByIds(db: Kysely<Database>, ids: readonly string[]): Promise<UserRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
}

/** Marks the address proved (an accepted invitation proves the mailbox). */
export async function markUserConfirmed(trx: Tx, userId: string, now: string): Promise<void> {
  await trx.updateTable('users').set({ confirmed_at: now }).where('id', '=', userId).execute();
}
