import { type Kysely, sql } from 'kysely';

/**
 * The audit log (spec/control-plane.md § Audit): append-only events with a
 * per-account hash chain, the chain head each account's next event links to,
 * and the signed hourly checkpoints of that head.
 *
 * Chain events have `seq` = `cursor_seq` and `cursor_sub` = 0. Events outside
 * the chain (`audit.exported`) have a null `seq`; they sit after the chain
 * event that was the head when they were written (`cursor_seq`, `cursor_sub` ≥ 1),
 * so one keyset order covers every row.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    sql`CREATE TABLE audit_events (
      id uuid PRIMARY KEY,
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      seq bigint,
      cursor_seq bigint NOT NULL,
      cursor_sub integer NOT NULL,
      occurred_at timestamptz NOT NULL,
      retain_until timestamptz NOT NULL,
      event_type text NOT NULL,
      actor_kind text NOT NULL,
      actor_id text,
      actor_label text,
      target_kind text,
      target_id text,
      target_label text,
      ip_address text,
      user_agent text,
      request_id text,
      auth_method text,
      mfa boolean,
      payload json NOT NULL,
      prev_hash text,
      hash text NOT NULL,
      CONSTRAINT audit_events_place CHECK (
        (seq IS NOT NULL AND seq = cursor_seq AND cursor_sub = 0)
        OR (seq IS NULL AND prev_hash IS NULL AND cursor_sub > 0)
      )
    )`,
    sql`CREATE UNIQUE INDEX audit_events_cursor_key ON audit_events (account_id, cursor_seq, cursor_sub)`,
    sql`CREATE INDEX audit_events_type_idx ON audit_events (account_id, event_type, cursor_seq, cursor_sub)`,
    sql`CREATE INDEX audit_events_retain_idx ON audit_events (retain_until)`,
    // Append-only: retention and account erasure delete rows; nothing rewrites one.
    sql`CREATE FUNCTION audit_events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
      END
    $$`,
    sql`CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_update()`,

    sql`CREATE TABLE audit_chain_heads (
      account_id uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
      seq bigint NOT NULL,
      hash text NOT NULL
    )`,

    sql`CREATE TABLE audit_checkpoints (
      account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      seq bigint NOT NULL,
      hash text NOT NULL,
      signed_at timestamptz NOT NULL,
      signature text NOT NULL,
      PRIMARY KEY (account_id, seq)
    )`,
  ];
  for (const statement of statements) await statement.execute(db);
}
