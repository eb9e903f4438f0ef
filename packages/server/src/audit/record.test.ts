import { type JsonObject, parseStrictJson } from '@emisar/protocol';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAccount } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { type AuditEventBody, chainHash } from './chain.js';
import { recordAuditEvent, recordAuditEvents, recordOffChainAuditEvent } from './record.js';
import { sampleEvent, signal, writeEvents } from './test-support/fixtures.js';

let storage: TestStorage;
beforeAll(async () => {
  storage = await openTestStorage();
});
afterAll(() => storage.close());

/** The stored rows of an account in chain order, as the bodies the chain hashed. */
async function storedChain(accountId: string) {
  const rows = await storage.db
    .selectFrom('audit_events')
    .selectAll()
    .select(sql<string>`payload::text`.as('payload'))
    .where('account_id', '=', accountId)
    .where('seq', 'is not', null)
    .orderBy('seq')
    .execute();
  return rows.map((row) => {
    const body: AuditEventBody = {
      seq: row.seq,
      id: row.id,
      occurred_at: row.occurred_at,
      account_id: row.account_id,
      event_type: row.event_type,
      actor_kind: row.actor_kind,
      actor_id: row.actor_id,
      actor_label: row.actor_label,
      target_kind: row.target_kind,
      target_id: row.target_id,
      target_label: row.target_label,
      ip_address: row.ip_address,
      user_agent: row.user_agent,
      request_id: row.request_id,
      auth_method: row.auth_method,
      mfa: row.mfa,
      payload: parseStrictJson(row.payload as string) as JsonObject,
      prev_hash: row.prev_hash,
    };
    return { body, hash: row.hash, retainUntil: row.retain_until };
  });
}

function expectIntactChain(chain: Awaited<ReturnType<typeof storedChain>>, first = 1) {
  chain.forEach(({ body, hash }, i) => {
    expect(body.seq).toBe(first + i);
    expect(chainHash(body)).toBe(hash);
    expect(body.prev_hash).toBe(
      i === 0 ? (first === 1 ? null : body.prev_hash) : chain[i - 1]!.hash,
    );
  });
}

describe('recordAuditEvent', () => {
  it('appends a dense, linked chain that verifies from the stored rows', async () => {
    const accountId = await insertAccount(storage.db);
    const first = await storage.db
      .transaction()
      .execute((trx) => recordAuditEvent(trx, sampleEvent(accountId, 1)));
    expect(first.seq).toBe(1);
    expect(first.occurredAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    await writeEvents(storage.db, accountId, 25, 10, 2);
    const chain = await storedChain(accountId);
    expect(chain).toHaveLength(26);
    expect(chain[0]!.body.prev_hash).toBeNull();
    expectIntactChain(chain);
    const head = await storage.db
      .selectFrom('audit_chain_heads')
      .selectAll()
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(head).toEqual({
      account_id: accountId,
      seq: 26,
      hash: chain[25]!.hash,
      removed_by_retention: [],
    });
  });

  it('keeps exact numbers, unicode and the caller-given time through storage', async () => {
    const accountId = await insertAccount(storage.db);
    const payload = parseStrictJson(
      '{"big":9223372036854775807,"small":1e-7,"text":"tab\\t nul\\u0000 é 🚀","empty":{}}',
    ) as JsonObject;
    await storage.db.transaction().execute((trx) =>
      recordAuditEvent(trx, {
        accountId,
        eventType: 'policy.updated',
        actor: { kind: 'system', id: null, label: null },
        payload,
        occurredAt: '2026-03-04T05:06:07.123456+02:00',
      }),
    );
    const [event] = await storedChain(accountId);
    expect(event!.body.occurred_at).toBe('2026-03-04T03:06:07.123456Z');
    expect(chainHash(event!.body)).toBe(event!.hash);
    expect(String(event!.body.payload.big)).toBe('9223372036854775807');
  });

  it('leaves no gap when the writing transaction rolls back', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 2);
    await expect(
      storage.db.transaction().execute(async (trx) => {
        await recordAuditEvent(trx, sampleEvent(accountId, 3));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await writeEvents(storage.db, accountId, 1, 1, 4);
    const chain = await storedChain(accountId);
    expect(chain.map((e) => e.body.seq)).toEqual([1, 2, 3]);
    expect(chain[2]!.body.actor_id).toBe('user-4');
    expectIntactChain(chain);
  });

  it('sets retain_until from the plan at write time; a later plan change leaves it', async () => {
    const accountId = await insertAccount(storage.db, 'team');
    const occurredAt = '2026-01-10T00:00:00.000001Z';
    const record = () =>
      storage.db
        .transaction()
        .execute((trx) => recordAuditEvent(trx, { ...sampleEvent(accountId, 1), occurredAt }));
    await record();
    await storage.db
      .updateTable('accounts')
      .set({ plan: 'free' })
      .where('id', '=', accountId)
      .execute();
    await record();
    const chain = await storedChain(accountId);
    expect(chain.map((e) => e.retainUntil)).toEqual([
      '2026-04-10T00:00:00.000001Z',
      '2026-01-17T00:00:00.000001Z',
    ]);
  });

  it('writes one cause to several accounts, each in its own chain', async () => {
    const a = await insertAccount(storage.db);
    const b = await insertAccount(storage.db);
    const recorded = await storage.db
      .transaction()
      .execute((trx) =>
        recordAuditEvents(trx, [sampleEvent(b, 1), sampleEvent(a, 2), sampleEvent(b, 3)]),
      );
    expect(recorded.map((r) => [r.accountId, r.seq])).toEqual([
      [b, 1],
      [a, 1],
      [b, 2],
    ]);
    expectIntactChain(await storedChain(b));
  });

  it('refuses malformed input and writes nothing', async () => {
    const accountId = await insertAccount(storage.db);
    const bad = [
      { ...sampleEvent(accountId, 1), eventType: 'NoFamily' },
      { ...sampleEvent(accountId, 1), occurredAt: '2026-02-30T00:00:00Z' },
      { ...sampleEvent(accountId, 1), context: { ip: 'not-an-ip' } },
      {
        ...sampleEvent(accountId, 1),
        actor: { kind: 'user' as const, id: 'x'.repeat(1001), label: null },
      },
      { ...sampleEvent(accountId, 1), payload: { text: '\uD800' } },
    ];
    for (const input of bad) {
      await expect(
        storage.db.transaction().execute((trx) => recordAuditEvent(trx, input)),
      ).rejects.toThrow(TypeError);
    }
    expect(await storedChain(accountId)).toEqual([]);
  });

  it('refuses to rewrite an event: the table is append-only', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 1);
    await expect(
      storage.db
        .updateTable('audit_events')
        .set({ actor_label: 'someone else' })
        .where('account_id', '=', accountId)
        .execute(),
    ).rejects.toThrow(/append-only/);
  });

  it('places an off-chain event after the head without moving it', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 2);
    const off = () =>
      storage.db.transaction().execute((trx) =>
        recordOffChainAuditEvent(trx, {
          accountId,
          eventType: 'audit.exported',
          actor: { kind: 'api_key', id: 'key-1', label: null },
          payload: { events: 2 },
        }),
      );
    const one = await off();
    const two = await off();
    expect([one.seq, two.seq]).toEqual([null, null]);
    const rows = await storage.db
      .selectFrom('audit_events')
      .select(['seq', 'cursor_seq', 'cursor_sub', 'prev_hash'])
      .where('account_id', '=', accountId)
      .orderBy('cursor_seq')
      .orderBy('cursor_sub')
      .execute();
    expect(rows).toEqual([
      { seq: 1, cursor_seq: 1, cursor_sub: 0, prev_hash: null },
      { seq: 2, cursor_seq: 2, cursor_sub: 0, prev_hash: expect.any(String) },
      { seq: null, cursor_seq: 2, cursor_sub: 1, prev_hash: null },
      { seq: null, cursor_seq: 2, cursor_sub: 2, prev_hash: null },
    ]);
    await writeEvents(storage.db, accountId, 1, 1, 3);
    expectIntactChain(await storedChain(accountId));
  });
});

describe.runIf(onPostgres)('recordAuditEvent with concurrent writers (PostgreSQL)', () => {
  it('holds the account lock until commit, so the later committer gets the later seq', async () => {
    const accountId = await insertAccount(storage.db);
    const firstMayCommit = signal();
    const firstHasRecorded = signal();
    const first = storage.db.transaction().execute(async (trx) => {
      const event = await recordAuditEvent(trx, sampleEvent(accountId, 1));
      firstHasRecorded.fire();
      await firstMayCommit.promise;
      return event;
    });
    await firstHasRecorded.promise;
    let secondDone = false;
    const second = storage.db
      .transaction()
      .execute((trx) => recordAuditEvent(trx, sampleEvent(accountId, 2)))
      .finally(() => {
        secondDone = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(secondDone).toBe(false);
    firstMayCommit.fire();
    const [a, b] = await Promise.all([first, second]);
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expectIntactChain(await storedChain(accountId));
  });

  it('keeps the chain dense and intact under many concurrent transactions', async () => {
    const accountId = await insertAccount(storage.db);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        storage.db
          .transaction()
          .execute(async (trx) => {
            await recordAuditEvent(trx, sampleEvent(accountId, i));
            if (i % 7 === 0) throw new Error('rolled back');
          })
          .catch(() => {}),
      ),
    );
    const chain = await storedChain(accountId);
    expect(chain).toHaveLength(40 - 6);
    expectIntactChain(chain);
  });
});
