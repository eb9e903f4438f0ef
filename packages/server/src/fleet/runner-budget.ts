import type { Clock } from '../core/clock.js';
import type { Db } from '../core/tx.js';
import { hitDurableLimit } from '../limits/durable-limit.js';

export type RunnerEndpoint = 'runner_register' | 'runner_refresh';

export interface RunnerEndpointBudget {
  /**
   * Spends one request of the endpoint's budget (`max` a minute) for the
   * client address and for the presented bearer (enrollment key or runner
   * token, counted by digest), before the bearer is even checked.
   */
  spend(endpoint: RunnerEndpoint, max: number, ip: string, bearer: string | null): Promise<void>;
}

export function createRunnerEndpointBudget(deps: { db: Db; clock: Clock }): RunnerEndpointBudget {
  return {
    async spend(endpoint, max, ip, bearer) {
      if (max === 0) return;
      const limit = (per: string) => ({ name: `${endpoint}_${per}`, max, windowMs: 60_000 });
      await hitDurableLimit(deps.db, limit('ip'), ip, deps.clock);
      if (bearer) await hitDurableLimit(deps.db, limit('key'), bearer, deps.clock);
    },
  };
}
