import { type Kysely, sql } from 'kysely';

/** The action timeout a run was dispatched with (clamped like the runner does): RUN_DEADLINE adds to it. */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN action_timeout_ms bigint NOT NULL DEFAULT 0`.execute(db);
}
