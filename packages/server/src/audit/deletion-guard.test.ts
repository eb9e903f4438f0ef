import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { insertAccount } from '../test-support/accounts.js';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import { recordAuditEvent } from './record.js';
import { sweepAuditRetention } from './retention.js';
import { sampleEvent, writeEvents } from './test-support/fixtures.js';

let storage: TestStorage;
let db: Kysely<Database>;

beforeAll(async () => {
  storage = await openTestStorage();
  db = storage.db;
});
afterAll(() => storage.close());

const REFUSED = /audit_events rows leave only by retention or account erasure/;

const countOf = async (accountId: string) =>
  Number(
    (
      await db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow()
    ).n,
  );

/** An event that expired long ago by the database's clock (a free plan keeps 7 days). */
const expiredEvent = (accountId: string, n: number) =>
  db
    .transaction()
    .execute((trx) =>
      recordAuditEvent(trx, { ...sampleEvent(accountId, n), occurredAt: '2020-01-01T00:00:00Z' }),
    );

describe('the audit delete guards', () => {
  it('refuses DELETE of a live row, one by id or all of them', async () => {
    const accountId = await insertAccount(db);
    await writeEvents(db, accountId, 3);
    const first = await db
      .selectFrom('audit_events')
      .select('id')
      .where('account_id', '=', accountId)
      .where('seq', '=', 1)
      .executeTakeFirstOrThrow();
    await expect(
      db.deleteFrom('audit_events').where('id', '=', first.id).execute(),
    ).rejects.toThrow(REFUSED);
    await expect(db.deleteFrom('audit_events').execute()).rejects.toThrow(REFUSED);
    await expect(sql`DELETE FROM audit_events`.execute(db)).rejects.toThrow(REFUSED);
    expect(await countOf(accountId)).toBe(3);
  });

  it('refuses TRUNCATE, directly or cascading from accounts', async () => {
    const accountId = await insertAccount(db);
    await writeEvents(db, accountId, 2);
    await expect(sql`TRUNCATE audit_events`.execute(db)).rejects.toThrow(
      /audit_events cannot be truncated/,
    );
    await expect(sql`TRUNCATE accounts CASCADE`.execute(db)).rejects.toThrow(
      /audit_events cannot be truncated/,
    );
    expect(await countOf(accountId)).toBe(2);
  });

  it('keeps the chain head: it only moves forward and goes only with its account', async () => {
    const accountId = await insertAccount(db);
    await writeEvents(db, accountId, 3);
    const head = () =>
      db.selectFrom('audit_chain_heads').select('seq').where('account_id', '=', accountId);
    await expect(
      db
        .updateTable('audit_chain_heads')
        .set({ seq: 2 })
        .where('account_id', '=', accountId)
        .execute(),
    ).rejects.toThrow(/an audit chain head only moves forward/);
    await expect(
      db.deleteFrom('audit_chain_heads').where('account_id', '=', accountId).execute(),
    ).rejects.toThrow(/an audit chain head goes only with its account/);
    await expect(sql`TRUNCATE audit_chain_heads`.execute(db)).rejects.toThrow(
      /audit_chain_heads cannot be truncated/,
    );
    expect(await head().executeTakeFirstOrThrow()).toEqual({ seq: 3 });
    await writeEvents(db, accountId, 1, 1, 4);
    expect(await head().executeTakeFirstOrThrow()).toEqual({ seq: 4 });
  });

  it('lets rows past their retain_until go, and the retention sweep delete them', async () => {
    const accountId = await insertAccount(db, 'free');
    await expiredEvent(accountId, 1);
    await writeEvents(db, accountId, 1, 1, 2);
    // One statement: the live row refuses it whole.
    await expect(
      db.deleteFrom('audit_events').where('account_id', '=', accountId).execute(),
    ).rejects.toThrow(REFUSED);
    const swept = await sweepAuditRetention({ db, clock: new ManualClock() });
    expect(swept.deleted).toBeGreaterThanOrEqual(1);
    const left = await db
      .selectFrom('audit_events')
      .select(['seq', 'event_type'])
      .where('account_id', '=', accountId)
      .orderBy('seq')
      .execute();
    expect(left).toEqual([
      { seq: 2, event_type: 'user.signed_in' },
      { seq: 3, event_type: 'audit.retention_swept' },
    ]);
    await expiredEvent(accountId, 4);
    const direct = await db
      .deleteFrom('audit_events')
      .where('account_id', '=', accountId)
      .where('seq', '=', 4)
      .executeTakeFirst();
    expect(Number(direct.numDeletedRows)).toBe(1);
  });

  it("lets an erased account's rows go, and only that account's", async () => {
    const erased = await insertAccount(db);
    const kept = await insertAccount(db);
    await writeEvents(db, erased, 3);
    await writeEvents(db, kept, 3);
    // Refused whole: the other account is not being erased.
    await expect(
      db.transaction().execute(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({ deleted_at: new Date().toISOString() })
          .where('id', '=', erased)
          .execute();
        await trx.deleteFrom('audit_events').where('account_id', 'in', [erased, kept]).execute();
      }),
    ).rejects.toThrow(REFUSED);
    expect(await countOf(erased)).toBe(3);

    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({ deleted_at: new Date().toISOString() })
        .where('id', '=', erased)
        .execute();
      await trx.deleteFrom('audit_events').where('account_id', '=', erased).execute();
    });
    expect(await countOf(erased)).toBe(0);
    await expect(
      db.deleteFrom('audit_events').where('account_id', '=', kept).execute(),
    ).rejects.toThrow(REFUSED);

    // Deleting the account row itself erases its log and head through ON DELETE CASCADE.
    await db.deleteFrom('accounts').where('id', '=', kept).execute();
    expect(await countOf(kept)).toBe(0);
    const heads = await db
      .selectFrom('audit_chain_heads')
      .select('account_id')
      .where('account_id', 'in', [erased, kept])
      .execute();
    expect(heads).toEqual([{ account_id: erased }]);
  });
});
