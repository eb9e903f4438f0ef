import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyBus } from '../bus/notify-bus.js';
import { createTestDatabase, onPostgres, openTestStorage } from '../test-support/database.js';
import { openStorage, type Storage } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';

// biome-ignore lint/suspicious/noExplicitAny: scratch tables outside the app schema.
type Scratch = Kysely<any>;

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';

/** Lets queued callbacks and pending I/O run, so a concurrent caller really gets a turn. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe(`storage contract on ${backend}`, () => {
  let storage: Storage;
  let db: Scratch;

  beforeAll(async () => {
    storage = await openTestStorage();
    db = storage.db as Scratch;
    await sql`create table items (id serial primary key, label text not null)`.execute(db);
    await sql`create table counters (name text primary key, value int8 not null)`.execute(db);
  });

  afterAll(async () => {
    await storage.close();
  });

  it('applies every migration once; a second run has nothing to do', async () => {
    expect(await migrateToLatest(storage.db)).toEqual([]);
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_name = 'accounts'`.execute(db);
    expect(tables.rows).toHaveLength(1);
  });

  it('returns int8 as a number and refuses to round one above 2^53', async () => {
    const { rows } = await sql<{ n: unknown; c: unknown }>`
      select 9007199254740991::int8 as n, count(*) as c from (values (1), (2)) v(x)`.execute(db);
    expect(rows[0]).toEqual({ n: 9007199254740991, c: 2 });
    await expect(sql`select 9007199254740993::int8 as n`.execute(db)).rejects.toThrow(
      /safe integer/,
    );
  });

  it('returns timestamps as RFC 3339 UTC strings with microseconds', async () => {
    const { rows } = await sql<{ t: string; u: string }>`
      select '2026-01-02 03:04:05.123456+02'::timestamptz as t,
             '2026-01-02 03:04:05'::timestamp as u`.execute(db);
    expect(rows[0]).toEqual({ t: '2026-01-02T01:04:05.123456Z', u: '2026-01-02T03:04:05.000000Z' });
  });

  it('rolls back only the transaction’s own work, not a statement issued beside it', async () => {
    let outside: Promise<unknown> | undefined;
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ label: 'inside' }).execute();
        // Issued while the transaction is open, through the shared handle.
        outside = db.insertInto('items').values({ label: 'outside' }).execute();
        await settle();
        throw new Error('abort the transaction');
      }),
    ).rejects.toThrow('abort the transaction');
    await outside;
    const labels = (await db.selectFrom('items').select('label').execute()).map((r) => r.label);
    expect(labels).toContain('outside');
    expect(labels).not.toContain('inside');
  });

  it('never shows a caller another transaction’s uncommitted rows', async () => {
    let committed = false;
    let observed: { count: number; committed: boolean } | undefined;
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ label: 'pending' }).execute();
      void db
        .selectFrom('items')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('label', '=', 'pending')
        .executeTakeFirstOrThrow()
        .then(({ count }) => {
          observed = { count: Number(count), committed };
        });
      await settle();
      committed = true;
    });
    await expect.poll(() => observed).toBeDefined();
    // Either the reader ran beside the transaction and saw nothing, or it waited for the commit.
    if (observed!.count === 1) expect(observed!.committed).toBe(true);
    else expect(observed!.count).toBe(0);
  });

  it('keeps concurrent read-modify-write transactions from interleaving', async () => {
    await db.insertInto('counters').values({ name: 'hits', value: 0 }).execute();
    const increment = () =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('counters')
          .select('value')
          .where('name', '=', 'hits')
          .forUpdate()
          .executeTakeFirstOrThrow();
        await settle();
        await trx
          .updateTable('counters')
          .set({ value: Number(row.value) + 1 })
          .where('name', '=', 'hits')
          .execute();
      });
    await Promise.all(Array.from({ length: 8 }, increment));
    const { value } = await db
      .selectFrom('counters')
      .select('value')
      .where('name', '=', 'hits')
      .executeTakeFirstOrThrow();
    expect(value).toBe(8);
  });

  it('delivers NOTIFY to listeners, on commit and never for a rolled-back transaction', async () => {
    const bus = createNotifyBus(storage);
    const received: string[] = [];
    const unsubscribe = await bus.subscribe('contract_test', (payload) => received.push(payload));
    try {
      await bus.publish(storage.db, 'contract_test', 'plain');
      await expect(
        storage.db.transaction().execute(async (trx) => {
          await bus.publish(trx, 'contract_test', 'rolled-back');
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await storage.db.transaction().execute(async (trx) => {
        await bus.publish(trx, 'contract_test', 'committed');
        await settle();
        expect(received).not.toContain('committed');
      });
      await expect.poll(() => received).toEqual(['plain', 'committed']);
    } finally {
      await unsubscribe();
      await bus.close();
    }
  });
});

describe.skipIf(!onPostgres)('PostgreSQL-only guarantees', () => {
  let storage: Storage;
  let db: Scratch;

  beforeAll(async () => {
    storage = await openTestStorage();
    db = storage.db as Scratch;
    await sql`create table jobs (id int primary key)`.execute(db);
    await db
      .insertInto('jobs')
      .values([{ id: 1 }, { id: 2 }])
      .execute();
  });

  afterAll(async () => {
    await storage.close();
  });

  it('hands two concurrent workers different rows with FOR UPDATE SKIP LOCKED', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const claimed: number[] = [];
    const worker = () =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('jobs')
          .select('id')
          .orderBy('id')
          .limit(1)
          .forUpdate()
          .skipLocked()
          .executeTakeFirst();
        if (row) claimed.push(row.id);
        await hold;
      });
    const workers = [worker(), worker()];
    await expect.poll(() => claimed.length).toBe(2);
    release();
    await Promise.all(workers);
    expect(claimed.sort()).toEqual([1, 2]);
  });

  it('admits one holder of an advisory lock at a time', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const results: boolean[] = [];
    const contender = () =>
      db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ got: boolean }>`
          select pg_try_advisory_xact_lock(424242) as got`.execute(trx);
        results.push(rows[0]!.got);
        await hold;
      });
    const contenders = [contender(), contender()];
    await expect.poll(() => results.length).toBe(2);
    release();
    await Promise.all(contenders);
    expect(results.sort()).toEqual([false, true]);
  });

  it('migrates once when two nodes start together', async () => {
    const database = await createTestDatabase();
    const nodes = [await openStorage(database.target), await openStorage(database.target)];
    try {
      const applied = await Promise.all(nodes.map((node) => migrateToLatest(node.db)));
      expect(applied.map((names) => names.length).sort()).toEqual([
        0,
        Object.keys(migrations).length,
      ]);
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      await database.drop();
    }
  });
});
