import type { ActionDescriptor } from '@emisar/protocol';
import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export type TrustState = 'trusted' | 'pending' | 'rejected';
export type CandidateState = 'trusted' | 'pending' | 'rejected';

/** A pack version's action descriptors by action id (availability fields normalised away). */
export type PackManifest = Record<string, ActionDescriptor>;

export interface PackVersionsTable {
  id: Generated<string>;
  account_id: string;
  pack_id: string;
  version: string;
  trust_state: TrustState;
  trusted_hash: string | null;
  trusted_manifest: ColumnType<PackManifest | null, string | null, string | null>;
  trusted_at: Timestamp | null;
  /** The published catalog retires this version (`retired_below` of a later one). */
  retired: Generated<boolean>;
  retirement_override: Generated<boolean>;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
}

/** Every hash seen for a pack version; exactly one is `trusted` when the version is. */
export interface PackCandidatesTable {
  id: Generated<string>;
  account_id: string;
  pack_version_id: string;
  hash: string;
  state: CandidateState;
  manifest: ColumnType<PackManifest, string, string>;
  /** The runner that first advertised it (drift is shown with it). */
  first_runner_id: string | null;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
}

/** What each runner advertises now (replaced on every runner_state). */
export interface RunnerActionsTable {
  account_id: string;
  runner_id: string;
  action_id: string;
  pack_id: string;
  pack_version: string;
  pack_hash: string;
  descriptor: ColumnType<ActionDescriptor, string, string>;
  /** RFC 8785 digest of the descriptor as advertised. */
  descriptor_digest: string;
  /** The digest without the availability fields: what must equal the trusted manifest's. */
  contract_digest: string;
  primary_executable_available: boolean;
  updated_at: Timestamp;
}

export interface CatalogTables {
  pack_versions: PackVersionsTable;
  pack_candidates: PackCandidatesTable;
  runner_actions: RunnerActionsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'pack_versions', accountColumn: 'account_id' },
  { table: 'pack_candidates', accountColumn: 'account_id' },
  { table: 'runner_actions', accountColumn: 'account_id' },
];
