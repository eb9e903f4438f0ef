import { generateKeyPairSync, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import { checkpointMessage } from './checkpoint-message.js';
import { listAuditCheckpoints, signAuditCheckpoints } from './checkpoints.js';
import { recordAuditEvent } from './record.js';
import { sweepAuditRetention } from './retention.js';
import { sampleEvent, writeEvents } from './test-support/fixtures.js';

let storage: TestStorage;
const { privateKey: signingKey, publicKey } = generateKeyPairSync('ed25519');

beforeAll(async () => {
  storage = await openTestStorage();
});
afterAll(() => storage.close());

describe('signed checkpoints', () => {
  it('signs each moved head once, verifiable with the published key', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const a = await insertAccount(storage.db);
    const b = await insertAccount(storage.db);
    await writeEvents(storage.db, a, 3);
    await writeEvents(storage.db, b, 1);
    const deps = { db: storage.db, signingKey, clock };
    expect(await signAuditCheckpoints(deps)).toBeGreaterThanOrEqual(2);
    expect(await signAuditCheckpoints(deps)).toBe(0);
    clock.advance(3_600_000);
    await writeEvents(storage.db, a, 2, 2, 4);
    expect(await signAuditCheckpoints(deps)).toBe(1);

    const document = await listAuditCheckpoints({ db: storage.db, signingKey, accountId: a });
    expect(document.public_key).toBe(publicKey.export({ format: 'pem', type: 'spki' }));
    expect(document.checkpoints.map((c) => [c.seq, c.signed_at])).toEqual([
      [3, '2026-06-01T00:00:00.000000Z'],
      [5, '2026-06-01T01:00:00.000000Z'],
    ]);
    const head = await storage.db
      .selectFrom('audit_chain_heads')
      .select('hash')
      .where('account_id', '=', a)
      .executeTakeFirstOrThrow();
    const latest = document.checkpoints[1]!;
    expect(latest.hash).toBe(head.hash);
    expect(
      verify(null, checkpointMessage(latest), publicKey, Buffer.from(latest.signature, 'base64')),
    ).toBe(true);
    const other = await listAuditCheckpoints({ db: storage.db, signingKey, accountId: b });
    expect(other.checkpoints.map((c) => c.seq)).toEqual([1]);
  });
});

describe('retention sweep', () => {
  it('deletes expired events, records the sweep in the chain, and is idempotent', async () => {
    const clock = new ManualClock('2026-07-01T00:00:00Z');
    const accountId = await insertAccount(storage.db, 'free');
    const at = (n: number, occurredAt: string) =>
      storage.db
        .transaction()
        .execute((trx) => recordAuditEvent(trx, { ...sampleEvent(accountId, n), occurredAt }));
    await at(1, '2026-06-20T00:00:00Z'); // retained until 06-27
    await at(2, '2026-06-25T00:00:00Z'); // until 07-02
    await at(3, '2026-06-21T00:00:00Z'); // until 06-28
    await signAuditCheckpoints({ db: storage.db, signingKey, clock });

    const first = await sweepAuditRetention({ db: storage.db, clock });
    expect(first.deleted).toBeGreaterThanOrEqual(2);
    const rows = await storage.db
      .selectFrom('audit_events')
      .select(['seq', 'event_type', 'payload'])
      .where('account_id', '=', accountId)
      .orderBy('seq')
      .execute();
    expect(rows).toEqual([
      { seq: 2, event_type: 'user.signed_in', payload: expect.anything() },
      {
        seq: 4,
        event_type: 'audit.retention_swept',
        payload: { deleted: 2, retained_from: '2026-07-01T00:00:00.000Z' },
      },
    ]);
    // The checkpoint at seq 3 signs nothing the server can still export.
    const left = await listAuditCheckpoints({ db: storage.db, signingKey, accountId });
    expect(left.checkpoints).toEqual([]);
    const removed = async () =>
      (
        await storage.db
          .selectFrom('audit_chain_heads')
          .select(['seq', 'removed_by_retention'])
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
      ).removed_by_retention;
    // What the sweep deleted, for export head statements to explain the gaps by.
    expect(await removed()).toEqual([
      [1, 1],
      [3, 3],
    ]);

    const again = await sweepAuditRetention({ db: storage.db, clock });
    expect(again).toMatchObject({ deleted: 0 });
    const count = await storage.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(2);

    // Later deletions merge with earlier ones into one range when they meet.
    const later = await sweepAuditRetention({
      db: storage.db,
      clock: new ManualClock('2026-07-09'),
    });
    expect(later.deleted).toBeGreaterThanOrEqual(2);
    expect(await removed()).toEqual([[1, 4]]);
  });
});
