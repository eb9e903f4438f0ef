import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';
import type { PackAccess, Role, RunnerAccess } from '../core/roles.js';

export interface MembershipsTable {
  id: Generated<string>;
  account_id: string;
  user_id: string;
  role: Role;
  invited_by: string | null;
  invitation_lookup: string | null;
  invitation_digest: Uint8Array | null;
  invitation_expires_at: Timestamp | null;
  accepted_at: Timestamp | null;
  last_active_at: Timestamp | null;
  suspended_at: Timestamp | null;
  runner_access: ColumnType<RunnerAccess, string | undefined, string>;
  pack_access: ColumnType<PackAccess, string | undefined, string>;
  created_at: Generated<string>;
  deleted_at: Timestamp | null;
}

export interface MemberTables {
  memberships: MembershipsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'memberships', accountColumn: 'account_id' },
];
