import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

let versions = 0;

/** A pack version with one candidate hash, trusted or pending, written straight to the database. */
export async function insertPackVersion(
  db: Kysely<Database>,
  accountId: string,
  options: { trusted?: boolean } = {},
): Promise<{ versionId: string; candidateId: string; hash: string }> {
  versions += 1;
  const hash = `sha256:${versions.toString(16).padStart(64, '0')}`;
  const now = new Date().toISOString();
  const trusted = options.trusted ?? false;
  const version = await db
    .insertInto('pack_versions')
    .values({
      account_id: accountId,
      pack_id: `fixture.pack${versions}`,
      version: '1.0.0',
      trust_state: trusted ? 'trusted' : 'pending',
      trusted_hash: trusted ? hash : null,
      trusted_manifest: trusted ? '{}' : null,
      trusted_at: trusted ? now : null,
      first_seen_at: now,
      last_seen_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const candidate = await db
    .insertInto('pack_candidates')
    .values({
      account_id: accountId,
      pack_version_id: version.id,
      hash,
      state: trusted ? 'trusted' : 'pending',
      manifest: '{}',
      first_seen_at: now,
      last_seen_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { versionId: version.id, candidateId: candidate.id, hash };
}
