import { type Kysely, type MigrationResult, Migrator } from 'kysely';
import { migrations } from './migrations/index.js';

export class MigrationError extends Error {
  constructor(
    readonly migration: string | undefined,
    options: { cause: unknown },
  ) {
    super(
      migration
        ? `migration ${migration} failed: ${describe(options.cause)}`
        : `migrations failed: ${describe(options.cause)}`,
      options,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Applies pending migrations. On PostgreSQL Kysely holds an advisory lock for
 * the whole run, so nodes starting together migrate once; the others wait and
 * then find nothing to do.
 */
// biome-ignore lint/suspicious/noExplicitAny: works on any schema generation.
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    const failed = results.find((r: MigrationResult) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, { cause: error });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
