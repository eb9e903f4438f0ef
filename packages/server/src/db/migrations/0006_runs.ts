import { type Kysely, sql } from 'kysely';

/**
 * Runs and their event stream (spec/control-plane.md § Runs). A run keeps its
 * exact argument bytes only as AES-256-GCM ciphertext, and only until it is
 * terminal; the redacted form is what stays. `run_events` is dense per run;
 * a runner's progress seq is unique per run so replays after a reconnect are
 * stored once. `runner_id` has no foreign key: a run's history outlives the
 * runner row it names.
 */
// Long by nature: one migration is one ordered list of DDL statements, frozen once shipped.
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    sql`CREATE TABLE runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      request_id text NOT NULL,
      operation_id text NOT NULL,
      request_fingerprint text NOT NULL,
      action_id text NOT NULL,
      runner_id uuid NOT NULL,
      runner_ref text NOT NULL,
      pack_id text NOT NULL,
      pack_version text NOT NULL,
      pack_ref text NOT NULL,
      expected_pack_hash text NOT NULL,
      risk text NOT NULL,
      source text NOT NULL CHECK (source IN ('operator', 'mcp', 'runbook')),
      api_key_id uuid,
      requested_by uuid,
      membership_id uuid,
      reason text NOT NULL CHECK (char_length(reason) BETWEEN 12 AND 2000),
      evidence text CHECK (char_length(evidence) <= 4000),
      expected text CHECK (char_length(expected) <= 2000),
      args_ciphertext bytea,
      args_redacted text NOT NULL,
      args_sha256 text NOT NULL,
      args_bytes integer NOT NULL CHECK (args_bytes <= 32768),
      sensitive_arg_names jsonb NOT NULL DEFAULT '[]',
      opts jsonb,
      client_info jsonb,
      ip_address text,
      user_agent text,
      policy_snapshot jsonb,
      approval_required boolean NOT NULL DEFAULT false,
      status text NOT NULL,
      status_reason text,
      queued_at timestamptz NOT NULL,
      sent_at timestamptz,
      started_at timestamptz,
      finished_at timestamptz,
      cancel_requested_at timestamptz,
      cancel_sent_generation bigint,
      cancelled_at timestamptz,
      delivery_generation bigint,
      delivery_count integer NOT NULL DEFAULT 0,
      exit_code integer,
      duration_ms bigint,
      stdout_sha256 text,
      stdout_bytes bigint,
      stderr_sha256 text,
      stderr_bytes bigint,
      stdout_truncated boolean,
      stderr_truncated boolean,
      progress_chunks integer,
      dropped_progress_chunks integer,
      output_complete boolean,
      structured_output text,
      executed_command text,
      executed_command_truncated boolean,
      redactions jsonb,
      runner_event_id text,
      local_audit_failed boolean,
      error_message text,
      event_count integer NOT NULL DEFAULT 0,
      event_bytes bigint NOT NULL DEFAULT 0,
      events_dropped integer NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL,
      CONSTRAINT runs_args_until_terminal CHECK (
        args_ciphertext IS NULL OR status IN ('pending', 'pending_approval', 'sent', 'running', 'cancelling')
      )
    )`,
    sql`CREATE UNIQUE INDEX runs_request_id_key ON runs (request_id)`,
    sql`CREATE UNIQUE INDEX runs_operation_key ON runs (account_id, operation_id)`,
    sql`CREATE INDEX runs_account_queued_idx ON runs (account_id, queued_at DESC, id DESC)`,
    sql`CREATE INDEX runs_runner_open_idx ON runs (runner_id, queued_at)
      WHERE status IN ('pending', 'sent', 'running', 'cancelling')`,
    sql`CREATE INDEX runs_open_idx ON runs (status, queued_at)
      WHERE status IN ('pending', 'sent', 'running', 'cancelling')`,

    sql`CREATE TABLE run_events (
      run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      seq integer NOT NULL,
      account_id uuid NOT NULL,
      kind text NOT NULL CHECK (kind IN ('progress', 'transition', 'error')),
      stream text CHECK (stream IN ('stdout', 'stderr')),
      runner_seq integer,
      payload text NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (run_id, seq)
    )`,
    sql`CREATE UNIQUE INDEX run_events_runner_seq_key ON run_events (run_id, runner_seq)
      WHERE runner_seq IS NOT NULL`,
  ];
  for (const statement of statements) await statement.execute(db);
}
