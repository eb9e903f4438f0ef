import { sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import { RateLimitedError, UnavailableError } from '../core/errors.js';
import { sha256 } from '../core/secrets.js';
import type { Db } from '../core/tx.js';
import { isDatabaseUnavailable } from '../db/availability.js';

/** A budget of `max` hits per fixed window, counted in the database. */
export interface DurableLimit {
  name: string;
  max: number;
  windowMs: number;
}

/**
 * Counts one hit against a fixed window stored in the database, so the limit
 * holds across restarts and nodes. Throws RateLimitedError past the limit and
 * UnavailableError when the counter cannot be read (fails closed).
 */
export async function hitDurableLimit(
  db: Db,
  limit: DurableLimit,
  subject: string,
  clock: Clock,
): Promise<void> {
  const bucket = `${limit.name}:${sha256(subject).toString('base64url')}`;
  const now = clock.now();
  const windowFloor = new Date(now.getTime() - limit.windowMs).toISOString();
  let row: { hits: number; window_started_at: string } | undefined;
  try {
    const result = await sql<{ hits: number; window_started_at: string }>`
      INSERT INTO rate_limit_counters AS c (bucket, window_started_at, hits)
      VALUES (${bucket}, ${now.toISOString()}, 1)
      ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN c.window_started_at <= ${windowFloor} THEN 1 ELSE c.hits + 1 END,
        window_started_at = CASE WHEN c.window_started_at <= ${windowFloor}
          THEN excluded.window_started_at ELSE c.window_started_at END
      RETURNING hits, window_started_at`.execute(db);
    row = result.rows[0];
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw error;
    throw new UnavailableError('Cannot check the rate limit right now; try again shortly.');
  }
  if (!row) throw new UnavailableError('Cannot check the rate limit right now; try again shortly.');
  if (row.hits > limit.max) {
    const resetAt = new Date(row.window_started_at).getTime() + limit.windowMs;
    throw new RateLimitedError((resetAt - now.getTime()) / 1000);
  }
}

/** The delete of counters whose window started before `cutoff` (the caller runs it and counts rows). */
export function forgetCountersBefore(db: Db, cutoff: string) {
  return db.deleteFrom('rate_limit_counters').where('window_started_at', '<', cutoff);
}
