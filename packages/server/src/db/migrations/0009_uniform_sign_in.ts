import { type Kysely, sql } from 'kysely';

/**
 * Sign-in answers the same whether or not an address has an account: a code
 * row (and a reset token row) exists for unknown addresses too, keyed by the
 * address digest; sign-ups wait in their code row until the mailbox is proved;
 * failed sign-ins wait in one queue whatever the address.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against the schema of their day.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    // Outstanding codes are keyed by user; the new key is the address. They live 15 minutes.
    sql`DELETE FROM sign_in_codes`,
    sql`DROP INDEX sign_in_codes_user_key`,
    sql`ALTER TABLE sign_in_codes ALTER COLUMN user_id DROP NOT NULL`,
    sql`ALTER TABLE sign_in_codes ADD COLUMN address_digest bytea NOT NULL`,
    sql`ALTER TABLE sign_in_codes ADD COLUMN sign_up jsonb`,
    sql`CREATE UNIQUE INDEX sign_in_codes_address_key ON sign_in_codes (address_digest)`,
    sql`ALTER TABLE user_tokens ALTER COLUMN user_id DROP NOT NULL`,
    sql`CREATE TABLE sign_in_failures (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid REFERENCES users(id) ON DELETE CASCADE,
      method text NOT NULL,
      reason text NOT NULL,
      context jsonb NOT NULL,
      occurred_at timestamptz NOT NULL
    )`,
    sql`CREATE INDEX sign_in_failures_occurred_idx ON sign_in_failures (occurred_at)`,
  ];
  for (const statement of statements) await statement.execute(db);
}
