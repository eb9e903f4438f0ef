import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { openTestStorage } from '../test-support/database.js';
import { type SmtpSink, startSmtpSink } from '../test-support/smtp-sink.js';
import { backoffMs, createMailOutbox } from './outbox.js';
import { createMailTransport } from './transports.js';

/** A loopback port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('mail outbox', () => {
  let storage: Storage;
  let sink: SmtpSink;
  const secretKey = randomBytes(32);
  const clock = new ManualClock('2026-05-01T00:00:00Z');
  const lines: { object: object; message: string }[] = [];
  const log = {
    info: (object: object, message: string) => void lines.push({ object, message }),
    warn: (object: object, message: string) => void lines.push({ object, message }),
  };

  beforeAll(async () => {
    storage = await openTestStorage();
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await storage.close();
    await sink.close();
  });

  const outboxWith = (url: string | null) =>
    createMailOutbox({
      db: storage.db,
      secretKey,
      clock,
      from: 'emisar <no-reply@emisar.test>',
      log,
      transport: createMailTransport(url ? { kind: 'smtp', url } : { kind: 'none' }),
    });
  const row = (to: string) =>
    storage.db
      .selectFrom('mail_outbox')
      .selectAll()
      .where('to_address', '=', to)
      .executeTakeFirstOrThrow();
  const message = {
    template: 'confirm_email' as const,
    link: 'http://localhost:8080/confirm#emcf-x',
  };

  it('is written in the transaction of its cause: a rollback leaves nothing', async () => {
    const outbox = outboxWith(sink.url);
    await storage.db
      .transaction()
      .execute(async (trx) => {
        await outbox.enqueue(trx, { accountId: null, to: 'rollback@example.test', message });
        throw new Error('cause failed');
      })
      .catch(() => {});
    const rows = await storage.db
      .selectFrom('mail_outbox')
      .select('id')
      .where('to_address', '=', 'rollback@example.test')
      .execute();
    expect(rows).toEqual([]);
  });

  it('retries with backoff while the server is down, then delivers and drops the body', async () => {
    const down = outboxWith(`smtp://127.0.0.1:${await closedPort()}`);
    await down.enqueue(storage.db, { accountId: null, to: 'retry@example.test', message });
    expect(await down.deliverDue()).toBe(1);
    let stored = await row('retry@example.test');
    expect(stored).toMatchObject({ status: 'pending', attempts: 1 });
    expect(stored.last_error).toBeTruthy();
    expect(new Date(stored.next_attempt_at).getTime() - clock.now().getTime()).toBe(backoffMs(1));
    expect(await down.deliverDue()).toBe(0); // not due yet
    down.close();

    clock.advance(backoffMs(1));
    const up = outboxWith(sink.url);
    expect(await up.deliverDue()).toBe(1);
    const mail = await sink.next('retry@example.test');
    expect(mail.text).toContain('/confirm#emcf-x');
    stored = await row('retry@example.test');
    expect(stored).toMatchObject({ status: 'sent', body_ciphertext: null });
    up.close();
  });

  it('gives up after ten attempts with doubling delays', async () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([5_000, 10_000, 20_000, 40_000]);
    const down = outboxWith(`smtp://127.0.0.1:${await closedPort()}`);
    await down.enqueue(storage.db, { accountId: null, to: 'never@example.test', message });
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(await down.deliverDue()).toBe(1);
      clock.advance(backoffMs(attempt));
    }
    expect(await row('never@example.test')).toMatchObject({
      status: 'failed',
      attempts: 10,
      body_ciphertext: null,
    });
    down.close();
  });

  it('without a transport, holds mail for the dev mailbox and logs only a pointer', async () => {
    const local = outboxWith(null);
    await local.enqueue(storage.db, { accountId: null, to: 'dev@example.test', message });
    await local.deliverDue();
    expect(await row('dev@example.test')).toMatchObject({ status: 'held' });
    const held = await local.held(10);
    expect(held.find((m) => m.to === 'dev@example.test')?.text).toContain('/confirm#emcf-x');
    const pointer = lines.filter((l) => l.message.includes('dev@example.test'));
    expect(pointer.map((l) => l.message)).toEqual(['mail to dev@example.test — open /dev/mailbox']);
    expect(JSON.stringify(lines)).not.toContain('emcf-x');
    local.close();
  });
});
