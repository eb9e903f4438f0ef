import { type Kysely, sql } from 'kysely';

/**
 * The fleet and the pack catalog (spec/control-plane.md § Fleet, § Catalog and
 * pack trust): runners with their connection lease, runner tokens, pack
 * versions with their trusted hash and candidate hashes, and each runner's
 * advertised actions.
 */
// Long by nature: one migration is one ordered list of DDL statements, frozen once shipped.
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    sql`CREATE TABLE runners (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      name text NOT NULL,
      external_id text NOT NULL,
      ref text NOT NULL,
      group_name text NOT NULL,
      enrolled_with_key_id uuid REFERENCES enrollment_keys(id) ON DELETE SET NULL,
      awaiting_reenrollment boolean NOT NULL DEFAULT false,
      hostname text NOT NULL,
      labels jsonb NOT NULL,
      version text NOT NULL,
      asserted_group text,
      degraded_packs jsonb NOT NULL DEFAULT '[]',
      state_received_at timestamptz,
      last_connected_at timestamptz,
      last_disconnected_at timestamptz,
      last_disconnect_reason text,
      connection_generation bigint NOT NULL DEFAULT 0,
      lease_node text,
      lease_expires_at timestamptz,
      disabled_at timestamptz,
      deleted_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      reenrolled_at timestamptz
    )`,
    sql`CREATE UNIQUE INDEX runners_live_external_id ON runners (account_id, external_id) WHERE deleted_at IS NULL`,
    sql`CREATE UNIQUE INDEX runners_live_name ON runners (account_id, name) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX runners_account_ref ON runners (account_id, ref)`,

    sql`CREATE TABLE runner_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      runner_id uuid NOT NULL REFERENCES runners(id) ON DELETE CASCADE,
      lookup text NOT NULL UNIQUE,
      digest bytea NOT NULL,
      expires_at timestamptz NOT NULL,
      refresh_after timestamptz NOT NULL,
      succeeded_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE INDEX runner_tokens_runner ON runner_tokens (runner_id)`,

    sql`CREATE TABLE pack_versions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      pack_id text NOT NULL,
      version text NOT NULL,
      trust_state text NOT NULL CHECK (trust_state IN ('trusted', 'pending', 'rejected')),
      trusted_hash text,
      trusted_manifest jsonb,
      trusted_at timestamptz,
      retired boolean NOT NULL DEFAULT false,
      retirement_override boolean NOT NULL DEFAULT false,
      first_seen_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      UNIQUE (account_id, pack_id, version),
      CHECK ((trust_state = 'trusted') = (trusted_hash IS NOT NULL))
    )`,
    sql`CREATE TABLE pack_candidates (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      pack_version_id uuid NOT NULL REFERENCES pack_versions(id) ON DELETE CASCADE,
      hash text NOT NULL,
      state text NOT NULL CHECK (state IN ('trusted', 'pending', 'rejected')),
      manifest jsonb NOT NULL,
      first_runner_id uuid REFERENCES runners(id) ON DELETE SET NULL,
      first_seen_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      UNIQUE (pack_version_id, hash)
    )`,
    sql`CREATE UNIQUE INDEX pack_candidates_one_trusted ON pack_candidates (pack_version_id) WHERE state = 'trusted'`,

    sql`CREATE TABLE runner_actions (
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      runner_id uuid NOT NULL REFERENCES runners(id) ON DELETE CASCADE,
      action_id text NOT NULL,
      pack_id text NOT NULL,
      pack_version text NOT NULL,
      pack_hash text NOT NULL,
      descriptor jsonb NOT NULL,
      descriptor_digest text NOT NULL,
      contract_digest text NOT NULL,
      primary_executable_available boolean NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (runner_id, action_id)
    )`,
    sql`CREATE INDEX runner_actions_account_pack ON runner_actions (account_id, pack_id, pack_version)`,
  ];
  for (const statement of statements) await statement.execute(db);
}
