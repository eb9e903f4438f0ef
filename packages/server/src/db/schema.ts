import type { ColumnType, Generated } from 'kysely';
import type { AccountSettings, IdentityTables } from '../accounts/tables.js';
import type { ApprovalTables } from '../approvals/tables.js';
import type { AuditTables } from '../audit/tables.js';
import type { CatalogTables } from '../catalog/tables.js';
import type { FleetTables } from '../fleet/tables.js';
import type { RunTables } from '../runs/tables.js';

/** Timestamps are RFC 3339 UTC strings with microseconds on both backends. */
export type Timestamp = ColumnType<string, string | undefined, string>;

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

export interface Database
  extends IdentityTables,
    AuditTables,
    FleetTables,
    CatalogTables,
    RunTables,
    ApprovalTables {
  accounts: AccountsTable;
}
