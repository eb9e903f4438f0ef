import type { PeriodicJob } from '../jobs/periodic.js';
import type { ApprovalService } from './service.js';

/**
 * Expires overdue approval requests (their runs are denied `approval_expired`)
 * every `intervalMs`, one node at a time, each request in its own transaction.
 */
export function approvalExpiryJob(deps: {
  approvals: Pick<ApprovalService, 'expireDue'>;
  intervalMs: number;
}): PeriodicJob<{ expired: number }> {
  return {
    name: 'approval expiry sweep',
    lock: { namespace: 0x61707072 /* 'appr' */, key: 1 },
    intervalMs: deps.intervalMs,
    firstDelayMs: 0,
    run: async (conn) => ({ expired: await deps.approvals.expireDue(conn) }),
  };
}
