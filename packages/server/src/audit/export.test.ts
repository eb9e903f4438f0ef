import { generateKeyPairSync } from 'node:crypto';
import { parseStrictJson } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { EXPORTED_FIELDS } from './chain.js';
import { type AuditExportService, createAuditExportService } from './export.js';
import { type AuditCursor, type AuditFilter, decodeCursor, encodeCursor, START } from './query.js';
import { recordAuditEvent, recordAuditEvents } from './record.js';
import { sampleEvent, signal, signedExport, writeEvents } from './test-support/fixtures.js';
import { verifyAuditExport } from './verify.js';

let storage: TestStorage;
let service: AuditExportService;
const clock = new ManualClock('2026-05-01T12:00:00Z');
const everything: AuditFilter = { since: null, eventTypes: null };
const { privateKey: signingKey, publicKey } = generateKeyPairSync('ed25519');
const signer = { signingKey, clock };
const verify = (lines: string[], filtered: boolean) =>
  verifyAuditExport(lines, { publicKey, filtered });

beforeAll(async () => {
  storage = await openTestStorage();
  service = createAuditExportService({ db: storage.db, clock });
});
afterAll(() => storage.close());

async function streamAll(accountId: string, after: AuditCursor = START, filter = everything) {
  const stream = await service.stream(accountId, after, filter);
  let text = '';
  for await (const chunk of stream.chunks) text += chunk;
  return { stream, lines: text.split('\n').filter(Boolean) };
}

const seqsOf = (lines: string[]) => lines.map((line) => JSON.parse(line).seq);
const linesOf = (page: { text: string }) => page.text.split('\n').filter(Boolean);

describe('audit export service', () => {
  it('pages by cursor through every event once, then reaches an empty page', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 25);
    const seen: number[] = [];
    let after = START;
    const fullness: boolean[] = [];
    for (;;) {
      const page = await service.page(accountId, { after, filter: everything, limit: 10 });
      if (linesOf(page).length === 0) {
        expect(page.last).toBeNull();
        break;
      }
      fullness.push(page.full);
      seen.push(...seqsOf(linesOf(page)));
      after = page.last!;
      expect(decodeCursor(encodeCursor(after))).toEqual(after);
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(fullness).toEqual([true, true, false]);
  });

  it('fills a page across a gap that retention left in the chain', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 4);
    // Long expired, so the delete guard lets them go.
    const expired = Array.from({ length: 16 }, (_, i) => ({
      ...sampleEvent(accountId, i + 5),
      occurredAt: '2020-01-01T00:00:00Z',
    }));
    await storage.db.transaction().execute((trx) => recordAuditEvents(trx, expired));
    await writeEvents(storage.db, accountId, 10, 10, 21);
    await storage.db
      .deleteFrom('audit_events')
      .where('account_id', '=', accountId)
      .where('seq', '>=', 5)
      .where('seq', '<=', 20)
      .execute();
    const page = await service.page(accountId, { after: START, filter: everything, limit: 10 });
    expect(seqsOf(linesOf(page))).toEqual([1, 2, 3, 4, 21, 22, 23, 24, 25, 26]);
    expect(page.full).toBe(true);
    const rare = await service.page(accountId, {
      after: START,
      filter: { since: null, eventTypes: ['runner.registered'] },
      limit: 3,
    });
    expect(seqsOf(linesOf(rare))).toEqual([3, 21, 24]);
  });

  it('writes each line as compact JSON in the documented field order, verifiable offline', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 5);
    const { lines } = await streamAll(accountId);
    const first = parseStrictJson(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual([...EXPORTED_FIELDS]);
    expect(first).toMatchObject({
      seq: 1,
      account_id: accountId,
      event_type: 'user.signed_in',
      actor_kind: 'user',
      actor_id: 'user-1',
      target_label: 'host-1',
      ip_address: '192.0.2.7',
      user_agent: 'vitest',
      request_id: 'req_1',
      auth_method: 'magic_link',
      mfa: false,
      payload: { n: 1, note: 'event 1 — ünïcödé 🚀', nested: { list: [1, 2.5, true, null] } },
      prev_hash: null,
    });
    expect(first.occurred_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(lines[0]).not.toMatch(/": /);
    const report = await verify(await signedExport(service, signer, accountId), false);
    expect(report).toMatchObject({ ok: true, events: 5, firstSeq: 1, lastSeq: 5, pieces: 1 });
  });

  it('streams everything after a cursor up to the head at the start', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 4500, 1500);
    const stream = await service.stream(accountId, { seq: 10, sub: 0 }, everything);
    expect(stream.next).toEqual({ seq: 4500, sub: 0 });
    // Written after the stream started: the next poll's business.
    await writeEvents(storage.db, accountId, 1, 1, 9999);
    let text = '';
    for await (const chunk of stream.chunks) text += chunk;
    const lines = text.split('\n').filter(Boolean);
    expect(seqsOf(lines)).toEqual(Array.from({ length: 4490 }, (_, i) => i + 11));
    expect(stream.sent()).toBe(4490);
    const after = await signedExport(service, signer, accountId, { after: { seq: 10, sub: 0 } });
    expect(await verify(after, false)).toMatchObject({ ok: true, firstSeq: 11, lastSeq: 4501 });
  });

  it('streams nothing, with no cursor, for an empty range', async () => {
    const accountId = await insertAccount(storage.db);
    const { stream, lines } = await streamAll(accountId);
    expect(stream.next).toBeNull();
    expect(lines).toEqual([]);
  });

  it('filters by event type and by since (inclusive); the pieces verify with filtered', async () => {
    const accountId = await insertAccount(storage.db);
    const at = (n: number, time: string) =>
      storage.db
        .transaction()
        .execute((trx) =>
          recordAuditEvent(trx, { ...sampleEvent(accountId, n), occurredAt: time }),
        );
    await at(1, '2026-04-01T00:00:00Z');
    await at(2, '2026-04-02T00:00:00Z');
    await at(3, '2026-04-03T00:00:00Z');
    await at(4, '2026-04-04T00:00:00Z');
    await at(5, '2026-04-01T12:00:00Z');
    const runners = await streamAll(accountId, START, {
      since: null,
      eventTypes: ['runner.registered'],
    });
    expect(seqsOf(runners.lines)).toEqual([3]);
    const both = await streamAll(accountId, START, {
      since: null,
      eventTypes: ['runner.registered', 'user.signed_in'],
    });
    expect(seqsOf(both.lines)).toEqual([1, 2, 3, 4, 5]);
    const recent = await streamAll(accountId, START, {
      since: '2026-04-02T00:00:00.000000Z',
      eventTypes: null,
    });
    expect(seqsOf(recent.lines)).toEqual([2, 3, 4]);
    const signed = await signedExport(service, signer, accountId, {
      filter: { since: '2026-04-02T00:00:00.000000Z', eventTypes: null },
    });
    expect(await verify(signed, true)).toMatchObject({ ok: true, events: 3 });
    expect((await verify(signed, false)).ok).toBe(false);
  });

  it('writes audit.exported at most once per key per hour, outside the chain, hidden unless asked', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 3);
    const note = (keyId: string, events: number) =>
      service.noteExport({
        accountId,
        keyId,
        events,
        request: { after: START, filter: everything, limit: 100 },
        context: {
          ip: '198.51.100.4',
          userAgent: 'siem',
          requestId: 'req_x',
          authMethod: 'api_key',
        },
      });
    expect(await note('11111111-1111-4111-8111-111111111111', 3)).toBe(true);
    clock.advance(59 * 60_000);
    expect(await note('11111111-1111-4111-8111-111111111111', 3)).toBe(false);
    expect(await note('22222222-2222-4222-8222-222222222222', 0)).toBe(true);
    await writeEvents(storage.db, accountId, 1, 1, 4);
    clock.advance(2 * 60_000);
    expect(await note('11111111-1111-4111-8111-111111111111', 1)).toBe(true);

    const plain = await streamAll(accountId);
    expect(seqsOf(plain.lines)).toEqual([1, 2, 3, 4]);
    const exported = await streamAll(accountId, START, {
      since: null,
      eventTypes: ['audit.exported'],
    });
    const events = exported.lines.map((line) => JSON.parse(line));
    expect(events.map((e) => [e.seq, e.actor_id, e.payload.events])).toEqual([
      [null, '11111111-1111-4111-8111-111111111111', 3],
      [null, '22222222-2222-4222-8222-222222222222', 0],
      [null, '11111111-1111-4111-8111-111111111111', 1],
    ]);
    expect(exported.stream.next).toEqual({ seq: 4, sub: 1 });
    const signed = await signedExport(service, signer, accountId, {
      filter: { since: null, eventTypes: ['audit.exported'] },
    });
    expect(await verify(signed, true)).toMatchObject({ ok: true, offChain: 3 });

    // Paging through a mix resumes correctly between events outside the chain.
    const mixed = {
      since: null,
      eventTypes: ['audit.exported', 'user.signed_in', 'runner.registered'],
    };
    const seen: (number | null)[] = [];
    let after = START;
    for (;;) {
      const page = await service.page(accountId, { after, filter: mixed, limit: 2 });
      if (!page.last) break;
      seen.push(...seqsOf(linesOf(page)));
      after = page.last;
    }
    expect(seen).toEqual([1, 2, 3, null, null, 4, null]);
  });
});

describe.runIf(onPostgres)('a cursor poller with concurrent writers (PostgreSQL)', () => {
  it('sees an event whose transaction began first but committed last', async () => {
    const accountId = await insertAccount(storage.db);
    const earlyMayRecord = signal();
    const begun = signal();
    // Begins first, so its occurred_at (the transaction's now()) is the earliest.
    const early = storage.db.transaction().execute(async (trx) => {
      await trx.selectFrom('accounts').select('id').where('id', '=', accountId).execute();
      begun.fire();
      await earlyMayRecord.promise;
      return recordAuditEvent(trx, sampleEvent(accountId, 1));
    });
    await begun.promise;
    await writeEvents(storage.db, accountId, 2, 1, 2);
    const first = await service.page(accountId, { after: START, filter: everything, limit: 100 });
    expect(seqsOf(linesOf(first))).toEqual([1, 2]);
    earlyMayRecord.fire();
    const late = await early;
    expect(late.seq).toBe(3);
    const second = await service.page(accountId, {
      after: first.last!,
      filter: everything,
      limit: 100,
    });
    const lines = linesOf(second).map((line) => JSON.parse(line));
    expect(lines.map((e) => e.seq)).toEqual([3]);
    expect(lines[0].occurred_at < JSON.parse(linesOf(first)[0]!).occurred_at).toBe(true);
    const empty = await service.page(accountId, {
      after: second.last!,
      filter: everything,
      limit: 100,
    });
    expect(linesOf(empty)).toEqual([]);
  });

  it('sees every event exactly once while many writers commit in random order', async () => {
    const accountId = await insertAccount(storage.db);
    const writers = Array.from({ length: 60 }, (_, i) =>
      storage.db.transaction().execute(async (trx) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
        await recordAuditEvent(trx, sampleEvent(accountId, i));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
      }),
    );
    let done = false;
    const allWritten = Promise.all(writers).then(() => {
      done = true;
    });
    const seen: number[] = [];
    let after = START;
    for (;;) {
      const finished = done;
      const page = await service.page(accountId, { after, filter: everything, limit: 7 });
      seen.push(...seqsOf(linesOf(page)));
      if (page.last) after = page.last;
      if (finished && linesOf(page).length === 0) break;
      if (linesOf(page).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await allWritten;
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });
});
