import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import { signAuditCheckpoints } from './checkpoints.js';
import type { AuditConfig } from './config.js';
import { AUDIT_LOCK_NAMESPACE } from './record.js';
import { sweepAuditRetention } from './retention.js';

/**
 * The checkpoint and retention sweeps on their intervals, once soon after
 * start too (a restart delays a tick but loses nothing: each sweep re-derives
 * its work from the rows), one node at a time.
 */
export function auditJobs(deps: {
  signingKey: KeyObject;
  clock: Clock;
  config: AuditConfig;
}): PeriodicJob[] {
  return [
    {
      name: 'audit checkpoint sweep',
      lock: { namespace: AUDIT_LOCK_NAMESPACE, key: 1 },
      intervalMs: deps.config.checkpointIntervalMs,
      firstDelayMs: 0,
      logDoneAt: 'info',
      run: async (db) => ({ signed: await signAuditCheckpoints({ ...deps, db }) }),
    },
    {
      name: 'audit retention sweep',
      lock: { namespace: AUDIT_LOCK_NAMESPACE, key: 2 },
      intervalMs: deps.config.retentionIntervalMs,
      firstDelayMs: 0,
      logDoneAt: 'info',
      run: (db) => sweepAuditRetention({ db, clock: deps.clock }),
    },
  ];
}
