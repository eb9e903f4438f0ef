import { type Kysely, sql } from 'kysely';

/**
 * People, memberships, sessions, sign-in secrets, MFA, credentials, the default
 * policy table, the email outbox and durable rate-limit counters. Every bearer
 * secret is stored as a SHA-256 digest; TOTP seeds and queued email bodies only
 * as AES-256-GCM ciphertext.
 */
// Long by nature: one migration is one ordered list of DDL statements, frozen once shipped.
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    sql`ALTER TABLE accounts
      ADD COLUMN settings jsonb NOT NULL DEFAULT '{"require_mfa": false, "max_grant_lifetime_seconds": null, "runner_inactive_retention_hours": null, "pack_unseen_retention_days": null}',
      ADD COLUMN disabled_at timestamptz,
      ADD COLUMN deletion_requested_at timestamptz,
      ADD COLUMN deleted_at timestamptz`,

    sql`CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL,
      full_name text,
      confirmed_at timestamptz,
      last_sign_in_at timestamptz,
      password_hash text,
      totp_secret_ciphertext bytea,
      totp_pending_ciphertext bytea,
      totp_last_step bigint,
      mfa_enabled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX users_email_key ON users (lower(email))`,

    sql`CREATE TABLE recovery_codes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      code_digest bytea NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id)`,

    sql`CREATE TABLE passkeys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      credential_id text NOT NULL,
      public_key bytea NOT NULL,
      counter bigint NOT NULL DEFAULT 0,
      transports jsonb NOT NULL DEFAULT '[]',
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz
    )`,
    sql`CREATE UNIQUE INDEX passkeys_credential_key ON passkeys (credential_id)`,
    sql`CREATE INDEX passkeys_user_idx ON passkeys (user_id)`,

    sql`CREATE TABLE webauthn_challenges (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid REFERENCES users(id) ON DELETE CASCADE,
      purpose text NOT NULL,
      challenge text NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,

    sql`CREATE TABLE memberships (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      user_id uuid NOT NULL REFERENCES users(id),
      role text NOT NULL,
      invited_by uuid REFERENCES users(id),
      invitation_lookup text,
      invitation_digest bytea,
      invitation_expires_at timestamptz,
      accepted_at timestamptz,
      last_active_at timestamptz,
      suspended_at timestamptz,
      runner_access jsonb NOT NULL DEFAULT '{"mode": "none"}',
      pack_access jsonb NOT NULL DEFAULT '{"mode": "all"}',
      created_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz
    )`,
    sql`CREATE UNIQUE INDEX memberships_live_key ON memberships (account_id, user_id) WHERE deleted_at IS NULL`,
    sql`CREATE UNIQUE INDEX memberships_invitation_key ON memberships (invitation_lookup) WHERE invitation_lookup IS NOT NULL`,
    sql`CREATE INDEX memberships_user_idx ON memberships (user_id)`,

    sql`CREATE TABLE sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      token_digest bytea NOT NULL,
      auth_method text NOT NULL,
      ip_address text,
      user_agent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      authenticated_at timestamptz NOT NULL DEFAULT now(),
      mfa_verified_at timestamptz,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`,
    sql`CREATE UNIQUE INDEX sessions_token_key ON sessions (token_digest)`,
    sql`CREATE INDEX sessions_user_idx ON sessions (user_id)`,

    // Magic-link codes: digest = sha256(nonce || code); one outstanding per user.
    sql`CREATE TABLE sign_in_codes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      digest bytea NOT NULL,
      failed_attempts integer NOT NULL DEFAULT 0,
      expires_at timestamptz NOT NULL,
      consumed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX sign_in_codes_user_key ON sign_in_codes (user_id)`,

    // Single-use emailed or printed tokens: confirmation, password reset, bootstrap.
    sql`CREATE TABLE user_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      purpose text NOT NULL,
      lookup text NOT NULL,
      digest bytea NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX user_tokens_lookup_key ON user_tokens (lookup)`,

    sql`CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      kind text NOT NULL,
      membership_id uuid REFERENCES memberships(id),
      name text NOT NULL,
      lookup text NOT NULL,
      digest bytea NOT NULL,
      lineage_id uuid NOT NULL,
      rotated_from_id uuid,
      created_by uuid REFERENCES users(id),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX api_keys_lookup_key ON api_keys (lookup)`,
    sql`CREATE INDEX api_keys_account_idx ON api_keys (account_id)`,

    sql`CREATE TABLE enrollment_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      name text NOT NULL,
      lookup text NOT NULL,
      digest bytea NOT NULL,
      reusable boolean NOT NULL DEFAULT false,
      max_uses integer,
      uses integer NOT NULL DEFAULT 0,
      pinned_group text,
      created_by uuid REFERENCES users(id),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE UNIQUE INDEX enrollment_keys_lookup_key ON enrollment_keys (lookup)`,
    sql`CREATE INDEX enrollment_keys_account_idx ON enrollment_keys (account_id)`,

    sql`CREATE TABLE policies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      scope text NOT NULL,
      scope_ref text NOT NULL DEFAULT '',
      vsn integer NOT NULL DEFAULT 1,
      rules jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz
    )`,
    sql`CREATE UNIQUE INDEX policies_live_scope_key ON policies (account_id, scope, scope_ref) WHERE deleted_at IS NULL`,

    sql`CREATE TABLE mail_outbox (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid REFERENCES accounts(id),
      to_address text NOT NULL,
      template text NOT NULL,
      subject text NOT NULL,
      body_ciphertext bytea,
      status text NOT NULL DEFAULT 'pending',
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      sent_at timestamptz
    )`,
    sql`CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending'`,

    // Fixed-window counters for limits that must hold across restarts and nodes.
    sql`CREATE TABLE rate_limit_counters (
      bucket text PRIMARY KEY,
      window_started_at timestamptz NOT NULL,
      hits integer NOT NULL
    )`,
  ];
  for (const statement of statements) await statement.execute(db);
}
