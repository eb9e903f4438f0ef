import { type Kysely, sql } from 'kysely';

/**
 * Audit rows leave only by retention or account erasure.
 *
 * A row may be deleted once its `retain_until` has passed (the retention
 * sweep), or when its account is being erased: the account row is marked
 * `deleted_at` or is itself being deleted (`ON DELETE CASCADE`). Every other
 * DELETE, and any TRUNCATE, is refused; a chain head only moves forward and
 * goes only with its account. A role that owns the tables or is a superuser
 * can still drop the triggers; the signed export head and the checkpoints a
 * customer keeps are what expose that.
 *
 * `audit_chain_heads.removed_by_retention` lists, as merged `[first, last]` seq ranges,
 * what the retention sweep deleted from the chain, so an export can tell a
 * gap retention made from one it did not. Gaps already in the chain when this
 * runs were made by the earlier sweep and are recorded as its.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    // Being erased: marked deleted, or its row already gone in this statement (a cascade).
    sql`CREATE FUNCTION audit_account_erasing(account uuid) RETURNS boolean LANGUAGE sql AS $$
      SELECT NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = account AND a.deleted_at IS NULL)
    $$`,
    sql`CREATE FUNCTION audit_events_guard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.retain_until < now() THEN
          RETURN OLD;
        END IF;
        IF audit_account_erasing(OLD.account_id) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events rows leave only by retention or account erasure'
          USING ERRCODE = 'insufficient_privilege';
      END
    $$`,
    sql`CREATE TRIGGER audit_events_delete_guard BEFORE DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_guard_delete()`,
    sql`CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% cannot be truncated', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END
    $$`,
    sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()`,

    // The head only moves forward and goes only with its account: lowering or
    // deleting it would hide the tail of the chain from the next export.
    sql`CREATE FUNCTION audit_chain_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          IF NEW.account_id = OLD.account_id AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
          END IF;
          RAISE EXCEPTION 'an audit chain head only moves forward'
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF audit_account_erasing(OLD.account_id) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'an audit chain head goes only with its account'
          USING ERRCODE = 'insufficient_privilege';
      END
    $$`,
    sql`CREATE TRIGGER audit_chain_heads_guard BEFORE UPDATE OR DELETE ON audit_chain_heads
      FOR EACH ROW EXECUTE FUNCTION audit_chain_heads_guard()`,
    sql`CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
      FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()`,

    sql`ALTER TABLE audit_chain_heads ADD COLUMN removed_by_retention jsonb NOT NULL DEFAULT '[]'`,
    sql`UPDATE audit_chain_heads h SET removed_by_retention = g.ranges
      FROM (
        SELECT account_id, jsonb_agg(jsonb_build_array(first, last) ORDER BY first) AS ranges
        FROM (
          SELECT account_id, coalesce(lag(seq) OVER w, 0) + 1 AS first, seq - 1 AS last
          FROM audit_events
          WHERE seq IS NOT NULL
          WINDOW w AS (PARTITION BY account_id ORDER BY seq)
        ) gaps
        WHERE first <= last
        GROUP BY account_id
      ) g
      WHERE g.account_id = h.account_id`,
  ];
  for (const statement of statements) await statement.execute(db);
}
