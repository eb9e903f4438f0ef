import { createPublicKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { testConfig } from '../test-support/config.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import type { CheckpointsDocument } from './checkpoint-message.js';
import { signAuditCheckpoints } from './checkpoints.js';
import { EXPORT_HEAD_TYPE, exportHeadSignedBy } from './export-head.js';
import { recordAuditEvent } from './record.js';
import { insertApiKey, sampleEvent, signal, writeEvents } from './test-support/fixtures.js';
import { verifyAuditExport } from './verify.js';

let storage: TestStorage;
let app: FastifyInstance;
const clock = new ManualClock('2026-05-01T12:00:00Z');
const config = testConfig({ baseUrl: 'https://emisar.example' });
let accountId: string;

beforeAll(async () => {
  storage = await openTestStorage();
  app = await createApp({ config, storage, clock });
  accountId = await insertAccount(storage.db);
  await writeEvents(storage.db, accountId, 25);
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

const get = (url: string, secret?: string) =>
  app.inject({
    method: 'GET',
    url,
    headers: secret ? { authorization: `Bearer ${secret}` } : {},
  });
/** The events of a response, after checking that its last line is the head statement. */
const eventsOf = (body: string): Record<string, unknown>[] => {
  const lines = body.split('\n').filter(Boolean);
  expect(JSON.parse(lines.at(-1)!).type).toBe(EXPORT_HEAD_TYPE);
  return lines.slice(0, -1).map((line) => JSON.parse(line));
};
const lineSeqs = (body: string) => eventsOf(body).map((event) => event.seq as number | null);
const publicKey = createPublicKey(config.signingKey);
const newKey = () => insertApiKey(storage.db, accountId, 'audit_export', clock);

describe('GET /api/audit', () => {
  it('answers 401 without a valid key and 403 wrong_key_kind for an mcp key', async () => {
    expect((await get('/api/audit')).statusCode).toBe(401);
    const forged = await get('/api/audit', `emk-${'A'.repeat(43)}`);
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.id).toBe('unauthorized');
    const mcp = await insertApiKey(storage.db, accountId, 'mcp', clock);
    const wrong = await get('/api/audit', mcp);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.id).toBe('wrong_key_kind');
    expect((await get('/api/audit/checkpoints', mcp)).json().error.id).toBe('wrong_key_kind');
  });

  it('pages by Link and X-Next-Cursor through every event, then an empty page', async () => {
    const key = await newKey();
    const first = await get('/api/audit', key);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(lineSeqs(first.body)).toHaveLength(25);
    expect(first.headers['x-next-cursor']).toBe(Buffer.from('25').toString('base64url'));
    expect(first.headers.link).toBeUndefined();

    const seen: (number | null)[] = [];
    let url: string | undefined = '/api/audit?limit=10';
    let cursor: string | undefined;
    while (url) {
      const response = await get(url, key);
      seen.push(...lineSeqs(response.body));
      cursor = (response.headers['x-next-cursor'] as string | undefined) ?? cursor;
      const link = response.headers.link as string | undefined;
      url = link ? /^<https:\/\/emisar\.example(\/[^>]+)>; rel="next"$/.exec(link)![1] : undefined;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const empty = await get(`/api/audit?cursor=${cursor}`, key);
    expect(empty.statusCode).toBe(200);
    expect(eventsOf(empty.body)).toEqual([]);
    expect(empty.headers['x-next-cursor']).toBeUndefined();
    expect(empty.headers.link).toBeUndefined();
  });

  it('filters by repeated and comma-separated event types and by since', async () => {
    const key = await newKey();
    const types = await get(
      '/api/audit?event_type=runner.registered&event_type=audit.retention_swept,user.password_changed',
      key,
    );
    expect(lineSeqs(types.body)).toEqual([3, 6, 9, 12, 15, 18, 21, 24]);
    const link = await get('/api/audit?event_type=runner.registered,user.signed_in&limit=2', key);
    expect(decodeURIComponent(link.headers.link as string)).toContain(
      'event_type=runner.registered,user.signed_in',
    );
    const future = await get('/api/audit?since=2999-01-01', key);
    expect(eventsOf(future.body)).toEqual([]);
    const cursorWins = await get(
      `/api/audit?since=2999-01-01&cursor=${Buffer.from('20').toString('base64url')}`,
      key,
    );
    expect(lineSeqs(cursorWins.body)).toEqual([21, 22, 23, 24, 25]);
  });

  it('clamps a huge limit to 1000 and refuses malformed parameters with 400 invalid_params', async () => {
    const other = await insertAccount(storage.db);
    await writeEvents(storage.db, other, 1003, 1003);
    const key = await insertApiKey(storage.db, other, 'audit_export', clock);
    const clamped = await get('/api/audit?limit=1000000000', key);
    expect(lineSeqs(clamped.body)).toHaveLength(1000);
    expect(clamped.headers.link).toContain('limit=1000');
    for (const bad of [
      'cursor=not-a-cursor!',
      `cursor=${Buffer.from('12abc').toString('base64url')}`,
      'since=yesterday',
      'since=2026-13-01',
      'limit=0',
      'limit=-5',
      'limit=ten',
      'event_type=Not A Type',
      'limit=1&limit=2',
    ]) {
      const response = await get(`/api/audit?${bad}`, key);
      expect(response.statusCode, bad).toBe(400);
      expect(response.json().error.id, bad).toBe('invalid_params');
    }
  });

  it('streams limit=all, and the stream verifies as a full export', async () => {
    const key = await newKey();
    const response = await get('/api/audit?limit=all', key);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(response.headers['x-next-cursor']).toBe(Buffer.from('25').toString('base64url'));
    const lines = response.body.split('\n').filter(Boolean);
    expect(lines).toHaveLength(26);
    // The key pinned on first use, from the well-known URL.
    const published = await get('/.well-known/emisar-audit-key');
    const pinned = createPublicKey(published.json().public_key);
    expect(await verifyAuditExport(lines, { publicKey: pinned, filtered: false })).toMatchObject({
      ok: true,
      events: 25,
      heads: 1,
      head: { seq: 25 },
    });
  });

  it('records audit.exported once per key per hour, shown only when asked for', async () => {
    const key = await newKey();
    await get('/api/audit?limit=5', key);
    await get('/api/audit?limit=5', key);
    const plain = await get('/api/audit?limit=all', key);
    expect(lineSeqs(plain.body).every((seq) => seq !== null)).toBe(true);
    const asked = await get('/api/audit?event_type=audit.exported&limit=all', key);
    const notes = eventsOf(asked.body).filter((e) => (e.payload as { limit?: number }).limit === 5);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({
      seq: null,
      prev_hash: null,
      event_type: 'audit.exported',
      actor_kind: 'api_key',
      auth_method: 'api_key:audit_export',
      payload: { events: 5, limit: 5, cursor: null },
    });
  });

  it('allows 60 requests a minute per key, then 429', async () => {
    const key = await newKey();
    for (let i = 0; i < 60; i++) {
      expect((await get('/api/audit?limit=1', key)).statusCode).toBe(200);
    }
    const limited = await get('/api/audit?limit=1', key);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.id).toBe('rate_limited');
    expect((await get('/api/audit?limit=1', await newKey())).statusCode).toBe(200);
  });

  it('ends every response with a head statement signed by the key the well-known URL serves', async () => {
    const published = await get('/.well-known/emisar-audit-key');
    expect(published.statusCode).toBe(200);
    expect(published.headers['cache-control']).toBe('public, max-age=3600');
    const { algorithm, key_id, public_key } = published.json();
    expect(algorithm).toBe('Ed25519');
    expect(key_id).toMatch(/^[0-9a-f]{16}$/);
    expect(createPublicKey(public_key).export({ format: 'der', type: 'spki' })).toEqual(
      publicKey.export({ format: 'der', type: 'spki' }),
    );

    const key = await newKey();
    const page = await get('/api/audit?limit=10&event_type=user.signed_in', key);
    const lines = page.body.split('\n').filter(Boolean);
    const head = JSON.parse(lines.at(-1)!);
    expect(head).toMatchObject({
      type: EXPORT_HEAD_TYPE,
      account_id: accountId,
      head_seq: 25,
      removed_by_retention: [],
      after: { seq: 0, sub: 0 },
      // A full page covers up to its last line.
      through: { seq: JSON.parse(lines.at(-2)!).seq, sub: 0 },
      filter: { since: null, event_types: ['user.signed_in'] },
      key_id,
    });
    expect(head.head_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(exportHeadSignedBy(head, publicKey)).toBe(true);
    expect(await verifyAuditExport(lines, { publicKey, filtered: true })).toMatchObject({
      ok: true,
      events: 10,
    });
  });

  it('serves signed checkpoints that the exported file verifies against', async () => {
    const key = await newKey();
    await signAuditCheckpoints({ db: storage.db, signingKey: config.signingKey, clock });
    const response = await get('/api/audit/checkpoints', key);
    expect(response.statusCode).toBe(200);
    const document = response.json() as CheckpointsDocument;
    expect(document.algorithm).toBe('Ed25519');
    expect(document.checkpoints.every((c) => c.account_id === accountId)).toBe(true);
    const lines = (await get('/api/audit?limit=all', key)).body.split('\n').filter(Boolean);
    const report = await verifyAuditExport(lines, {
      publicKey,
      filtered: false,
      checkpoints: document,
    });
    expect(report).toMatchObject({ ok: true, checkpointsMatched: 1 });
  });
});

describe.runIf(onPostgres)(
  'a cursor poller over GET /api/audit (PostgreSQL, concurrent writers)',
  () => {
    it('sees every event exactly once, late commits included, and reaches an empty page', async () => {
      const account = await insertAccount(storage.db);
      const key = await insertApiKey(storage.db, account, 'audit_export', clock);
      // Begins first, so its occurred_at is the earliest, but commits last.
      const earlyBegan = signal();
      const earlyMayCommit = signal();
      const early = storage.db.transaction().execute(async (trx) => {
        await trx.selectFrom('accounts').select('id').where('id', '=', account).execute();
        earlyBegan.fire();
        await earlyMayCommit.promise;
        await recordAuditEvent(trx, sampleEvent(account, 0));
      });
      // The writers open their transactions only once this one has begun: each
      // pooled connection opens on its own, so starting first proves nothing.
      await earlyBegan.promise;
      const pending = new Set<Promise<unknown>>();
      for (let i = 1; i <= 30; i++) {
        const writer = storage.db.transaction().execute(async (trx) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
          await recordAuditEvent(trx, sampleEvent(account, i));
        });
        pending.add(writer);
        void writer.finally(() => pending.delete(writer));
      }
      const seen: { seq: number; occurred_at: string; actor_id: string }[] = [];
      let cursor: string | undefined;
      let released = false;
      for (;;) {
        const response = await get(`/api/audit?limit=7${cursor ? `&cursor=${cursor}` : ''}`, key);
        expect(response.statusCode).toBe(200);
        const events = eventsOf(response.body) as (typeof seen)[number][];
        seen.push(...events);
        cursor = (response.headers['x-next-cursor'] as string | undefined) ?? cursor;
        if (events.length > 0) continue;
        if (pending.size > 0) await Promise.race(pending);
        else if (!released) {
          released = true;
          earlyMayCommit.fire();
          await early;
        } else break;
      }
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      expect(new Set(seen.map((e) => e.actor_id)).size).toBe(31);
      const late = seen.at(-1)!;
      expect(late.actor_id).toBe('user-0');
      expect(late.occurred_at < seen[0]!.occurred_at).toBe(true);
    });
  },
);
