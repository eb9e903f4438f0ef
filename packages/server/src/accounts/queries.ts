import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AccountsTable } from './tables.js';

export type AccountRow = Selectable<AccountsTable>;

/** A live account by slug; disabled ones are returned (owners may still manage them). */
export function findLiveAccountBySlug(
  db: Kysely<Database>,
  slug: string,
): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('slug', '=', slug)
    .where('deleted_at', 'is', null)
    .where('deletion_requested_at', 'is', null)
    .executeTakeFirst();
}

export function findLiveAccountById(
  db: Kysely<Database>,
  id: string,
): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}
