import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export interface DegradedPackRow {
  pack: string;
  reason: string;
}

/** An action the runner loaded but refuses (local admission or a load rule), with why. */
export interface RefusedActionRow {
  id: string;
  pack_id: string;
  reason: string;
}

export interface RunnersTable {
  id: Generated<string>;
  account_id: string;
  /**
   * The runner's `runner.id` at enrollment (default its hostname); unique among
   * live runners of the account, and accepted wherever a runner is named.
   */
  name: string;
  /** `runner.id` or the hostname; unique among live runners of the account. */
  external_id: string;
  /** `<name>~<first 32 hex of sha256(external_id)>`, what agents address. */
  ref: string;
  /** Fixed at enrollment; only an admin changes it. */
  group_name: string;
  enrolled_with_key_id: string | null;
  awaiting_reenrollment: Generated<boolean>;
  hostname: string;
  labels: ColumnType<Record<string, string>, string, string>;
  version: string;
  /** The group the runner last asserted when it differs from `group_name` (an issue shown on it). */
  asserted_group: string | null;
  degraded_packs: ColumnType<DegradedPackRow[], string | undefined, string>;
  refused_actions: ColumnType<RefusedActionRow[], string | undefined, string>;
  state_received_at: Timestamp | null;
  last_connected_at: Timestamp | null;
  last_disconnected_at: Timestamp | null;
  last_disconnect_reason: string | null;
  /** Bumped by every new connection; work and frames are fenced by it. */
  connection_generation: Generated<number>;
  lease_node: string | null;
  lease_expires_at: Timestamp | null;
  disabled_at: Timestamp | null;
  deleted_at: Timestamp | null;
  created_at: Generated<string>;
  reenrolled_at: Timestamp | null;
}

export interface RunnerTokensTable {
  id: Generated<string>;
  account_id: string;
  runner_id: string;
  lookup: string;
  digest: Uint8Array;
  expires_at: Timestamp;
  refresh_after: Timestamp;
  /** Set when a successor is minted: this token stays valid for 24 h after it. */
  succeeded_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: Generated<string>;
}

export interface FleetTables {
  runners: RunnersTable;
  runner_tokens: RunnerTokensTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'runners', accountColumn: 'account_id' },
  { table: 'runner_tokens', accountColumn: 'account_id' },
];
