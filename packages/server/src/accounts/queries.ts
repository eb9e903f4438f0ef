import type { Selectable } from 'kysely';
import type { Db, Tx } from '../core/tx.js';
import type { AccountsTable } from './tables.js';

export type AccountRow = Selectable<AccountsTable>;

/** A live account by slug; disabled ones are returned (owners may still manage them). */
export function findLiveAccountBySlug(db: Db, slug: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('slug', '=', slug)
    .where('deleted_at', 'is', null)
    .where('deletion_requested_at', 'is', null)
    .executeTakeFirst();
}

export function findLiveAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** An account whatever its state (deleted, disabled, or asked to be deleted). */
export function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Whether an account may be used: not disabled, deleted, or asked to be deleted. */
export function accountIsUsable(
  account: Pick<AccountRow, 'disabled_at' | 'deleted_at' | 'deletion_requested_at'>,
): boolean {
  return !account.disabled_at && !account.deleted_at && !account.deletion_requested_at;
}

/** Those of `ids` not deleted, by name. */
export function liveAccountsByName(db: Db, ids: readonly string[]): Promise<AccountRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('id', 'in', ids)
    .where('deleted_at', 'is', null)
    .orderBy('name')
    .execute();
}

/** The oldest of `ids` not deleted. */
export function oldestLiveAccount(db: Db, ids: readonly string[]): Promise<AccountRow | undefined> {
  if (!ids.length) return Promise.resolve(undefined);
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('id', 'in', ids)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
}

/** Locks the account row until the transaction ends: its members' changes queue behind it. */
export async function lockAccount(trx: Tx, id: string): Promise<void> {
  await trx.selectFrom('accounts').select('id').where('id', '=', id).forUpdate().execute();
}

/** Every account not deleted, with its settings. */
export function liveAccountSettings(db: Db) {
  return db
    .selectFrom('accounts')
    .select(['id', 'settings'])
    .where('deleted_at', 'is', null)
    .execute();
}

/** What other domains read of accounts; app.ts passes it (or a Pick of it) to their factories. */
export const accountQueries = {
  findLiveAccountBySlug,
  findLiveAccountById,
  findAccountById,
  liveAccountsByName,
  oldestLiveAccount,
  lockAccount,
  liveAccountSettings,
};
export type AccountQueries = typeof accountQueries;
