import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export type PolicyDecision = 'allow' | 'require_approval' | 'deny';
export interface PolicyRules {
  defaults: Record<'low' | 'medium' | 'high' | 'critical', PolicyDecision>;
  overrides: { name: string; action: string; decision: PolicyDecision }[];
  approval: { min_approvals: number; allow_self_approval: boolean };
}

export interface PoliciesTable {
  id: Generated<string>;
  account_id: string;
  scope: 'account' | 'group' | 'runner';
  /** '' for the account scope; the group name or runner id otherwise. */
  scope_ref: ColumnType<string, string | undefined, string>;
  vsn: ColumnType<number, number | undefined, number>;
  rules: ColumnType<PolicyRules, string, string>;
  created_at: Generated<string>;
  updated_at: Generated<string>;
  deleted_at: Timestamp | null;
}

/** Stored on the run: which policy decided, at which version, by which rule. */
export interface PolicySnapshot {
  policy_id: string | null;
  scope: PoliciesTable['scope'] | null;
  vsn: number | null;
  decision: PolicyDecision;
  /** `override:<name>`, `default:<tier>`, or null. */
  matched_rule: string | null;
  /** `override`, `default`, `no_policy`, `unknown_risk`, `invalid_rules`, `agents_stopped`. */
  reason: string;
}

export interface PolicyTables {
  policies: PoliciesTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'policies', accountColumn: 'account_id' },
];
