import type { Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';
import type { ApiKeyKind } from '../core/principal.js';

export interface ApiKeysTable {
  id: Generated<string>;
  account_id: string;
  kind: ApiKeyKind;
  membership_id: string | null;
  name: string;
  lookup: string;
  digest: Uint8Array;
  lineage_id: string;
  rotated_from_id: string | null;
  created_by: string | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  created_at: Generated<string>;
}

export interface EnrollmentKeysTable {
  id: Generated<string>;
  account_id: string;
  name: string;
  lookup: string;
  digest: Uint8Array;
  reusable: boolean;
  max_uses: number | null;
  uses: Generated<number>;
  pinned_group: string | null;
  created_by: string | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  created_at: Generated<string>;
}

export interface CredentialTables {
  api_keys: ApiKeysTable;
  enrollment_keys: EnrollmentKeysTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'api_keys', accountColumn: 'account_id' },
  { table: 'enrollment_keys', accountColumn: 'account_id' },
];
