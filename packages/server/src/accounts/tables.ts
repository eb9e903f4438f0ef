import type { ColumnType, Generated } from 'kysely';
import type { AuthTables } from '../auth/tables.js';
import type { CredentialTables } from '../credentials/tables.js';
import type { Timestamp } from '../db/schema.js';
import type { MailTables } from '../mail/tables.js';
import type { MemberTables } from '../members/tables.js';

export interface AccountSettings {
  require_mfa: boolean;
  /** null = no cap, 0 = standing grants off */
  max_grant_lifetime_seconds: number | null;
  runner_inactive_retention_hours: number | null;
  pack_unseen_retention_days: number | null;
}

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

/** Every table of the identity issue, added to `Database` in one line. */
export interface IdentityTables extends AuthTables, MemberTables, CredentialTables, MailTables {
  policies: PoliciesTable;
}
