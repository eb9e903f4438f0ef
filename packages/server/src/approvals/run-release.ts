import type { Tx } from '../core/tx.js';

/** What a request shows of the run it parks. */
export interface ParkedRunFacts {
  /** The trusted descriptor's risk. */
  risk: string;
  /** The redacted argument JSON (sensitive values masked). */
  argsRedacted: string;
}

/**
 * How the approvals domain reads a parked run and moves it on, inside its own
 * transaction and after its re-checks (implemented by the runs domain).
 */
export interface RunRelease {
  /** Approved: the run becomes deliverable (`pending`). */
  release(trx: Tx, runId: string): Promise<void>;
  /** Denied, expired, or refused by the current policy at release. */
  deny(trx: Tx, runId: string, statusReason: string): Promise<void>;
  /** The run's facts, or null when the account has no such run. */
  facts(trx: Tx, accountId: string, runId: string): Promise<ParkedRunFacts | null>;
}
