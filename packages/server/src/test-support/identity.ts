import type { Kysely } from 'kysely';
import { type CreatedAccount, createAccount } from '../accounts/service.js';
import { findOrCreateUser, type UserRow } from '../auth/users.js';
import { type Clock, systemClock } from '../clock.js';
import type { Database } from '../db/schema.js';

export interface SeededWorkspace extends CreatedAccount {
  owner: UserRow;
}

/** A confirmed owner and their workspace, written straight through the services. */
export async function seedWorkspace(
  db: Kysely<Database>,
  options: { email?: string; name?: string; clock?: Clock } = {},
): Promise<SeededWorkspace> {
  const clock = options.clock ?? systemClock;
  const email = options.email ?? `owner-${Math.random().toString(36).slice(2, 10)}@example.test`;
  return db.transaction().execute(async (trx) => {
    const { user } = await findOrCreateUser(trx, email, null);
    await trx
      .updateTable('users')
      .set({ confirmed_at: clock.now().toISOString() })
      .where('id', '=', user.id)
      .execute();
    const created = await createAccount(
      trx,
      { name: options.name ?? 'Seeded Workspace', owner: user },
      { clock },
    );
    return { ...created, owner: user };
  });
}
