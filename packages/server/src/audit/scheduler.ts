import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { signAuditCheckpoints } from './checkpoints.js';
import type { AuditConfig } from './config.js';
import { sweepAuditRetention } from './retention.js';

export interface AuditSweepsDeps {
  db: Kysely<Database>;
  signingKey: KeyObject;
  clock: Clock;
  config: AuditConfig;
  log: {
    info(fields: object, message: string): void;
    error(fields: object, message: string): void;
  };
}

export interface AuditSweeps {
  /** Stops the timers and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Runs the checkpoint and retention sweeps on their intervals, once soon
 * after start too (a restart delays a tick but loses nothing: each sweep
 * re-derives its work from the rows). Every node runs them; their advisory
 * locks let one node at a time do the work.
 */
export function startAuditSweeps(deps: AuditSweepsDeps): AuditSweeps {
  const running = new Set<Promise<void>>();
  const schedule = (name: string, intervalMs: number, sweep: () => Promise<object>) => {
    let busy = false;
    const tick = () => {
      if (busy) return; // a slow sweep is not stacked on itself
      busy = true;
      const run = sweep()
        .then((result) => deps.log.info({ sweep: name, ...result }, `audit ${name} sweep done`))
        .catch((error: unknown) =>
          deps.log.error({ err: error, sweep: name }, `audit ${name} sweep failed`),
        )
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    const first = setTimeout(tick, 0);
    const timer = setInterval(tick, intervalMs);
    first.unref();
    timer.unref();
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  };
  const stops = [
    schedule('checkpoint', deps.config.checkpointIntervalMs, async () => ({
      signed: await signAuditCheckpoints(deps),
    })),
    schedule('retention', deps.config.retentionIntervalMs, () => sweepAuditRetention(deps)),
  ];
  return {
    async stop() {
      for (const stop of stops) stop();
      await Promise.allSettled([...running]);
    },
  };
}
