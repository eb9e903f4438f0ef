import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export type ApprovalVote = 'approve' | 'deny';

export interface ApprovalRequestsTable {
  id: Generated<string>;
  account_id: string;
  run_id: string;
  requested_by_user_id: string | null;
  api_key_id: string | null;
  reason: string;
  evidence: string | null;
  expected: string | null;
  runner_id: string;
  runner_group: string | null;
  action_id: string;
  /** The trusted descriptor's risk; null when unknown (treated as high). */
  risk: string | null;
  pack_ref: string;
  pack_id: string;
  args_sha256: string;
  /** The redacted argument form (sensitive values masked), for deciders only. */
  args_redacted: ColumnType<unknown, string | null | undefined, string | null>;
  status: ColumnType<ApprovalStatus, ApprovalStatus | undefined, ApprovalStatus>;
  min_approvals: number;
  allow_self_approval: boolean;
  decided_at: Timestamp | null;
  decided_by_user_id: string | null;
  decision_note: string | null;
  /** Why it ended when the status alone does not say (a policy deny at release…). */
  status_reason: string | null;
  expires_at: Timestamp;
  created_at: Generated<string>;
}

export interface ApprovalDecisionsTable {
  id: Generated<string>;
  account_id: string;
  request_id: string;
  user_id: string;
  decision: ApprovalVote;
  note: string | null;
  created_at: Generated<string>;
}

export interface StandingGrantsTable {
  id: Generated<string>;
  account_id: string;
  approval_request_id: string;
  created_by_user_id: string | null;
  api_key_lineage_id: string;
  action_id: string;
  pack_ref: string;
  /** null = any runner */
  runner_id: string | null;
  /** null = any arguments */
  args_sha256: string | null;
  max_uses: number | null;
  uses: Generated<number>;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by_user_id: string | null;
  last_used_at: Timestamp | null;
  created_at: Generated<string>;
}

/** Added to `Database` in one line. */
export interface ApprovalTables {
  approval_requests: ApprovalRequestsTable;
  approval_decisions: ApprovalDecisionsTable;
  standing_grants: StandingGrantsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'approval_requests', accountColumn: 'account_id' },
  { table: 'approval_decisions', accountColumn: 'account_id' },
  { table: 'standing_grants', accountColumn: 'account_id' },
];
