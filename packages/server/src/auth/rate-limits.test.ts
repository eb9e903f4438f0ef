import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { RateLimitedError, UnavailableError } from '../core/errors.js';
import type { Storage } from '../db/database.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import { openTestStorage } from '../test-support/database.js';
import { clientKey } from './rate-limits.js';

describe('durable rate limits', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  const limit = { name: 'test', max: 3, windowMs: 60_000 };

  it('counts per subject in a fixed window stored in the database', async () => {
    const clock = new ManualClock();
    for (let i = 0; i < 3; i++) await hitDurableLimit(storage.db, limit, 'a@example.test', clock);
    await expect(
      hitDurableLimit(storage.db, limit, 'a@example.test', clock),
    ).rejects.toBeInstanceOf(RateLimitedError);
    await hitDurableLimit(storage.db, limit, 'b@example.test', clock);
    clock.advance(60_000);
    await hitDurableLimit(storage.db, limit, 'a@example.test', clock);
    const buckets = await storage.db.selectFrom('rate_limit_counters').select('bucket').execute();
    expect(JSON.stringify(buckets)).not.toContain('example.test');
  });

  it('fails closed when the counter cannot be written', async () => {
    await sql`ALTER TABLE rate_limit_counters RENAME TO rate_limit_counters_gone`.execute(
      storage.db,
    );
    try {
      await expect(
        hitDurableLimit(storage.db, limit, 'c@example.test', new ManualClock()),
      ).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await sql`ALTER TABLE rate_limit_counters_gone RENAME TO rate_limit_counters`.execute(
        storage.db,
      );
    }
  });
});

describe('the client key of the per-client sign-in budget', () => {
  const group = fc.integer({ min: 0, max: 0xffff });
  const groups = fc.array(group, { minLength: 8, maxLength: 8 });
  const full = (g: number[]) => g.map((x) => x.toString(16).padStart(4, '0')).join(':');
  /** The form Node and proxies hand us: lowercase, compressed. */
  const canonical = (g: number[]) => new URL(`http://[${full(g)}]`).hostname.slice(1, -1);

  it('is the address itself for IPv4, also when mapped into IPv6', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('is the /64 network for IPv6, whatever the spelling', () => {
    fc.assert(
      fc.property(groups, (g) => {
        expect(clientKey(canonical(g))).toBe(clientKey(full(g)));
        expect(clientKey(full(g).toUpperCase())).toBe(clientKey(full(g)));
      }),
    );
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
    expect(clientKey('1::2:3:4:5:6.7.8.9')).toBe('1:0:2:3::/64');
  });

  it('puts addresses of one /64 together and other networks apart', () => {
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        const sameNetwork = [...a.slice(0, 4), ...b.slice(4)];
        expect(clientKey(canonical(sameNetwork))).toBe(clientKey(canonical(a)));
        const differs = a.slice(0, 4).some((x, i) => x !== b[i]);
        expect(clientKey(canonical(b)) === clientKey(canonical(a))).toBe(!differs);
      }),
    );
  });
});
