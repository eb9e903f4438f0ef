import { type Kysely, sql } from 'kysely';

/**
 * What each runner loaded but refuses to run (by local admission or a load
 * rule), with why, as its runner_state lists it: a run for one of these is
 * answered action_not_admitted instead of unknown_action.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runners ADD COLUMN refused_actions jsonb NOT NULL DEFAULT '[]'`.execute(db);
}
