import { type Kysely, sql } from 'kysely';

/**
 * Policy and approvals (spec/control-plane.md § Policy, § Approvals and
 * standing grants): the account-wide agent stop switch, approval requests
 * with one vote per decider, and standing grants for API-key runs. Runs and
 * runners belong to other domains and migrations, so their ids are plain
 * columns here (every row is also scoped by account).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    sql`ALTER TABLE accounts ADD COLUMN agents_stopped_at timestamptz`,

    sql`CREATE TABLE approval_requests (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      run_id uuid NOT NULL,
      requested_by_user_id uuid REFERENCES users(id),
      api_key_id uuid REFERENCES api_keys(id),
      reason text NOT NULL,
      evidence text,
      expected text,
      runner_id uuid NOT NULL,
      runner_group text,
      action_id text NOT NULL,
      risk text,
      pack_ref text NOT NULL,
      pack_id text NOT NULL,
      args_sha256 text NOT NULL,
      args_redacted jsonb,
      status text NOT NULL DEFAULT 'pending',
      min_approvals integer NOT NULL,
      allow_self_approval boolean NOT NULL,
      decided_at timestamptz,
      decided_by_user_id uuid REFERENCES users(id),
      decision_note text,
      status_reason text,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX approval_requests_run_key ON approval_requests (account_id, run_id)`,
    sql`CREATE INDEX approval_requests_account_idx ON approval_requests (account_id, created_at DESC, id DESC)`,
    sql`CREATE INDEX approval_requests_due_idx ON approval_requests (expires_at) WHERE status = 'pending'`,

    sql`CREATE TABLE approval_decisions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      request_id uuid NOT NULL REFERENCES approval_requests(id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users(id),
      decision text NOT NULL,
      note text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX approval_decisions_voter_key ON approval_decisions (request_id, user_id)`,

    sql`CREATE TABLE standing_grants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      approval_request_id uuid NOT NULL REFERENCES approval_requests(id) ON DELETE CASCADE,
      created_by_user_id uuid REFERENCES users(id),
      api_key_lineage_id uuid NOT NULL,
      action_id text NOT NULL,
      pack_ref text NOT NULL,
      runner_id uuid,
      args_sha256 text,
      max_uses integer,
      uses integer NOT NULL DEFAULT 0,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_by_user_id uuid REFERENCES users(id),
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE INDEX standing_grants_match_idx ON standing_grants (account_id, api_key_lineage_id, action_id) WHERE revoked_at IS NULL`,
  ];
  for (const statement of statements) await statement.execute(db);
}
