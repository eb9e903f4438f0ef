import type { Tx } from '../core/tx.js';

/**
 * How the approvals domain moves a parked run on, inside its own transaction
 * and after its re-checks (implemented by the runs domain).
 */
export interface RunRelease {
  /** Approved: the run becomes deliverable (`pending`). */
  release(trx: Tx, runId: string): Promise<void>;
  /** Denied, expired, or refused by the current policy at release. */
  deny(trx: Tx, runId: string, statusReason: string): Promise<void>;
}
