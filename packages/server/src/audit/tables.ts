import type { ColumnType } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { ActorKind } from '../core/actor.js';
import type { Timestamp } from '../core/columns.js';
import type { SeqRange } from './seq-ranges.js';

export interface AuditEventsTable {
  id: string;
  account_id: string;
  /** Per-account, dense, commit-ordered; null for events outside the chain (`audit.exported`). */
  seq: number | null;
  /** The row's place in export order: `seq` for chain events, the head it followed otherwise. */
  cursor_seq: number;
  /** 0 for chain events; 1, 2, … for the events outside the chain that follow `cursor_seq`. */
  cursor_sub: number;
  occurred_at: Timestamp;
  retain_until: Timestamp;
  event_type: string;
  actor_kind: ActorKind;
  actor_id: string | null;
  actor_label: string | null;
  target_kind: string | null;
  target_id: string | null;
  target_label: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  auth_method: string | null;
  mfa: boolean | null;
  /** Canonical JSON text, stored verbatim (a `json` column) so the export can splice it. */
  payload: ColumnType<unknown, string, never>;
  prev_hash: string | null;
  hash: string;
}

/** The last chain event of each account: what the next event links to. */
export interface AuditChainHeadsTable {
  account_id: string;
  seq: number;
  hash: string;
  /** What the retention sweep deleted from the chain, as merged seq ranges (JSON on write). */
  removed_by_retention: ColumnType<SeqRange[], string | undefined, string>;
}

export interface AuditCheckpointsTable {
  account_id: string;
  seq: number;
  hash: string;
  signed_at: Timestamp;
  /** base64 Ed25519 signature over `checkpointMessage(...)`. */
  signature: string;
}

/** Every audit table, added to `Database` in one line. */
export interface AuditTables {
  audit_events: AuditEventsTable;
  audit_chain_heads: AuditChainHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'audit_events', accountColumn: 'account_id' },
  { table: 'audit_chain_heads', accountColumn: 'account_id' },
  { table: 'audit_checkpoints', accountColumn: 'account_id' },
];
