import type { ColumnType, Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';
import type { PolicySnapshot } from '../policy/tables.js';

export const IN_PROGRESS_STATUSES = [
  'pending',
  'pending_approval',
  'sent',
  'running',
  'cancelling',
] as const;
export const TERMINAL_STATUSES = [
  'success',
  'failed',
  'error',
  'validation_failed',
  'unknown_action',
  'timed_out',
  'cancelled',
  'refused',
  'denied',
] as const;
export type InProgressStatus = (typeof IN_PROGRESS_STATUSES)[number];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export type RunStatus = InProgressStatus | TerminalStatus;
export type RunSource = 'operator' | 'mcp' | 'runbook';

export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null, string | null>;

export interface RunsTable {
  id: Generated<string>;
  account_id: string;
  request_id: string;
  operation_id: string;
  /** SHA-256 over the request's facts: the same operation id with other facts is a conflict. */
  request_fingerprint: string;
  action_id: string;
  runner_id: string;
  runner_ref: string;
  pack_id: string;
  pack_version: string;
  pack_ref: string;
  expected_pack_hash: string;
  risk: string;
  source: RunSource;
  api_key_id: string | null;
  requested_by: string | null;
  membership_id: string | null;
  reason: string;
  evidence: string | null;
  expected: string | null;
  /** The exact argument bytes, sealed; null once the run is terminal. */
  args_ciphertext: Uint8Array | null;
  /** JSON text of the arguments with sensitive values masked. */
  args_redacted: string;
  args_sha256: string;
  args_bytes: number;
  sensitive_arg_names: Json<string[]>;
  opts: NullableJson<Record<string, number>>;
  client_info: NullableJson<Record<string, unknown>>;
  ip_address: string | null;
  user_agent: string | null;
  policy_snapshot: NullableJson<PolicySnapshot>;
  approval_required: ColumnType<boolean, boolean | undefined, boolean>;
  status: RunStatus;
  status_reason: string | null;
  queued_at: Timestamp;
  sent_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  cancel_requested_at: Timestamp | null;
  /** The connection generation a cancel frame went out on (null: not sent yet). */
  cancel_sent_generation: number | null;
  cancelled_at: Timestamp | null;
  /** The connection generation the run_action went out on. */
  delivery_generation: number | null;
  delivery_count: ColumnType<number, number | undefined, number>;
  exit_code: number | null;
  duration_ms: number | null;
  stdout_sha256: string | null;
  stdout_bytes: number | null;
  stderr_sha256: string | null;
  stderr_bytes: number | null;
  stdout_truncated: boolean | null;
  stderr_truncated: boolean | null;
  progress_chunks: number | null;
  dropped_progress_chunks: number | null;
  output_complete: boolean | null;
  /** JSON text (exact numbers kept). */
  structured_output: string | null;
  executed_command: string | null;
  executed_command_truncated: boolean | null;
  redactions: NullableJson<{ name: string; type: string; count: number }[]>;
  runner_event_id: string | null;
  local_audit_failed: boolean | null;
  error_message: string | null;
  event_count: ColumnType<number, number | undefined, number>;
  event_bytes: ColumnType<number, number | undefined, number>;
  events_dropped: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
  /** The action timeout the run was dispatched with, clamped into the action's bounds. */
  action_timeout_ms: ColumnType<number, number | undefined, number>;
}

export type RunEventKind = 'progress' | 'transition' | 'error';

export interface RunEventsTable {
  run_id: string;
  /** Dense from 1 per run. */
  seq: number;
  account_id: string;
  kind: RunEventKind;
  stream: 'stdout' | 'stderr' | null;
  /** The runner's progress seq (dedup key across replays). */
  runner_seq: number | null;
  payload: string;
  created_at: Timestamp;
}

export interface RunTables {
  runs: RunsTable;
  run_events: RunEventsTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'runs', accountColumn: 'account_id' },
  { table: 'run_events', accountColumn: 'account_id' },
];
