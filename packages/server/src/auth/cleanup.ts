import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import { forgetCountersBefore } from '../limits/durable-limit.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Spent sign-in material is kept this long for support questions, then deleted. */
const KEEP_SPENT_MS = 7 * DAY_MS;

export interface CleanupCounts {
  signInCodes: number;
  userTokens: number;
  webauthnChallenges: number;
  sessions: number;
  rateLimitCounters: number;
}

/**
 * Deletes sign-in material that can no longer be used: expired codes, tokens
 * and WebAuthn challenges, sessions a week past expiry or revocation, and rate
 * counters whose window is long over. Idempotent; any node may run it.
 */
export async function cleanUpIdentityRows(
  db: Kysely<Database>,
  clock: Clock,
): Promise<CleanupCounts> {
  const cutoff = new Date(clock.now().getTime() - KEEP_SPENT_MS).toISOString();
  const deleted = async (query: { executeTakeFirst(): Promise<{ numDeletedRows: bigint }> }) =>
    Number((await query.executeTakeFirst()).numDeletedRows);
  return {
    signInCodes: await deleted(db.deleteFrom('sign_in_codes').where('expires_at', '<', cutoff)),
    userTokens: await deleted(db.deleteFrom('user_tokens').where('expires_at', '<', cutoff)),
    webauthnChallenges: await deleted(
      db.deleteFrom('webauthn_challenges').where('expires_at', '<', cutoff),
    ),
    sessions: await deleted(
      db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)])),
    ),
    rateLimitCounters: await deleted(forgetCountersBefore(db, cutoff)),
  };
}

/** The identity cleanup hourly, on every node (its deletes are safe to repeat). */
export function identityCleanupJob(deps: { clock: Clock }): PeriodicJob<CleanupCounts> {
  return {
    name: 'identity cleanup',
    lock: null,
    intervalMs: HOUR_MS,
    firstDelayMs: HOUR_MS,
    run: (db) => cleanUpIdentityRows(db, deps.clock),
  };
}
