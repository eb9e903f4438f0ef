import type { Selectable } from 'kysely';
import type { Clock } from '../core/clock.js';
import { ConflictError, InvalidParamsError } from '../core/errors.js';
import type { Db, Tx } from '../core/tx.js';
import { slugFromName, slugProblem } from './slug.js';
import type { AccountSettings, AccountsTable } from './tables.js';

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

export interface NewAccount {
  name: string;
  /** Derived from the name when absent. */
  slug?: string;
}

const SLUG_ATTEMPTS = 5;

/**
 * A workspace record on the Free plan, in the caller's transaction. Its owner,
 * policy and audit events are the caller's (members creates whole workspaces).
 */
export async function createAccount(trx: Tx, input: NewAccount, clock: Clock): Promise<AccountRow> {
  if (input.slug !== undefined) {
    const problem = slugProblem(input.slug);
    if (problem) throw new InvalidParamsError(problem, 'invalid_slug');
  }
  const now = clock.now().toISOString();
  for (let attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
    const slug = input.slug ?? slugFromName(input.name, attempt);
    const account = await trx
      .insertInto('accounts')
      .values({ name: input.name, slug, plan: 'free', created_at: now })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (account) return account;
    if (input.slug !== undefined) {
      throw new ConflictError('That workspace slug is taken.', 'slug_taken');
    }
  }
  throw new ConflictError('Could not find a free workspace slug.', 'slug_taken');
}

/** Sets a live account's plan, locking it first; the plan before, or null when there is no such account. */
export async function changePlan(trx: Tx, slug: string, plan: string) {
  const account = await trx
    .selectFrom('accounts')
    .select(['id', 'plan', 'slug'])
    .where('slug', '=', slug)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  if (!account) return null;
  await trx.updateTable('accounts').set({ plan }).where('id', '=', account.id).execute();
  return account;
}

/** Replaces a workspace's settings, and its name when given. */
export async function updateSettings(
  trx: Tx,
  accountId: string,
  settings: AccountSettings,
  name: string | undefined,
): Promise<void> {
  await trx
    .updateTable('accounts')
    .set({ settings: JSON.stringify(settings), ...(name ? { name } : {}) })
    .where('id', '=', accountId)
    .execute();
}

/** What other domains read of accounts; app.ts passes it (or a Pick of it) to their factories. */
/** The account's plan (live or not), or undefined when there is no such account. */
export async function planOf(db: Db, id: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('accounts')
    .select('plan')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.plan;
}

export const accountQueries = {
  planOf,
  createAccount,
  changePlan,
  updateSettings,
  findLiveAccountBySlug,
  findLiveAccountById,
  findAccountById,
  liveAccountsByName,
  oldestLiveAccount,
  lockAccount,
  liveAccountSettings,
  setAgentsStopped,
};
export type AccountQueries = typeof accountQueries;

/** Turns the agent stop switch on (at `stoppedAt`) or off; false when it already was. */
export async function setAgentsStopped(
  trx: Tx,
  accountId: string,
  stoppedAt: string | null,
): Promise<boolean> {
  const changed = await trx
    .updateTable('accounts')
    .set({ agents_stopped_at: stoppedAt })
    .where('id', '=', accountId)
    .where('agents_stopped_at', stoppedAt ? 'is' : 'is not', null)
    .returning('id')
    .executeTakeFirst();
  return changed !== undefined;
}
