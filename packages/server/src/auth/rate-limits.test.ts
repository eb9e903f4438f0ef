import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { RateLimitedError, UnavailableError } from '../core/errors.js';
import type { Storage } from '../db/database.js';
import { openTestStorage } from '../test-support/database.js';
import { hitDurableLimit } from './rate-limits.js';

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
