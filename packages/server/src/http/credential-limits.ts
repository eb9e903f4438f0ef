import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Principal } from '../core/principal.js';
import type { Database } from '../db/schema.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import { isStateChanging } from './auth.js';
import type { RateLimitConfig } from './rate-limit-config.js';

/** `runs`: creating runs; `writes`: every other state-changing REST request. */
export type CredentialBudget = 'runs' | 'writes';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which per-credential budget a state-changing route spends (default `writes`). */
    credentialBudget?: CredentialBudget;
  }
}

export interface CredentialLimitDeps {
  db: Kysely<Database>;
  clock: Clock;
  limits: Pick<RateLimitConfig, 'runsPerMinute' | 'writesPerMinute'>;
}

const WINDOW_MS = 60_000;

/** Who spends a budget: an API key's lineage (a rotated key keeps it), or a person across all their sessions. */
function credentialOf(principal: Principal): string {
  return principal.kind === 'api_key'
    ? `key:${principal.key.lineageId}`
    : `user:${principal.userId}`;
}

/**
 * Spends one request of the caller's budget; past it, 429 `rate_limited` with
 * Retry-After (the end of the minute window). Other credentials are unaffected.
 */
export async function spendCredentialBudget(
  deps: CredentialLimitDeps,
  principal: Principal,
  budget: CredentialBudget,
): Promise<void> {
  const max = budget === 'runs' ? deps.limits.runsPerMinute : deps.limits.writesPerMinute;
  if (max === 0) return;
  await hitDurableLimit(
    deps.db,
    { name: `credential_${budget}`, max, windowMs: WINDOW_MS },
    credentialOf(principal),
    deps.clock,
  );
}

/** Every authenticated state-changing `/api/v1` request spends its route's budget. */
export function installCredentialLimits(app: FastifyInstance, deps: CredentialLimitDeps): void {
  app.addHook('preHandler', async (request) => {
    if (!request.principal || !isStateChanging(request)) return;
    await spendCredentialBudget(
      deps,
      request.principal,
      request.routeOptions.config.credentialBudget ?? 'writes',
    );
  });
}
