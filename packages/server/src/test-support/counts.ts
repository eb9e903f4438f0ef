import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** How many rows of an account-scoped table belong to the account. */
export async function countAccountRows(
  db: Kysely<Database>,
  table: 'runs' | 'api_keys' | 'runners',
  accountId: string,
): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
