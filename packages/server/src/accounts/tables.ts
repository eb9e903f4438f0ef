import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export interface AccountSettings {
  require_mfa: boolean;
  /** null = no cap, 0 = standing grants off */
  max_grant_lifetime_seconds: number | null;
  runner_inactive_retention_hours: number | null;
  pack_unseen_retention_days: number | null;
}

export interface AccountsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  plan: ColumnType<string, string | undefined, string>;
  created_at: Generated<string>;
  settings: ColumnType<AccountSettings, string | undefined, string>;
  disabled_at: Timestamp | null;
  deletion_requested_at: Timestamp | null;
  deleted_at: Timestamp | null;
  /** The agent stop switch: while set, runs from API keys and OAuth tokens are denied. */
  agents_stopped_at: Timestamp | null;
}

export interface AccountTables {
  accounts: AccountsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'accounts', accountColumn: 'id' },
];
