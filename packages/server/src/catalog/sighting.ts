import type { ActionDescriptor } from '@emisar/protocol';
import type { Tx } from '../core/tx.js';
import { manifestOf } from './manifest.js';
import type { PublishedCatalog } from './published.js';
import type { PackManifest } from './tables.js';

/** One runner advertising one pack version with one hash. */
export interface Sighting {
  accountId: string;
  runnerId: string;
  packId: string;
  version: string;
  hash: string;
  actions: ActionDescriptor[];
  now: string;
}

export type SightingEvent =
  | 'pack_trust.auto_trusted'
  | 'pack_trust.pending'
  | 'pack_trust.drift_detected';

export interface SightingOutcome {
  packVersionId: string;
  /** What to audit, when the sighting is news. */
  event: SightingEvent | null;
  /** Whether the version's trust or candidates changed. */
  changed: boolean;
}

type SeenVersion = Awaited<ReturnType<typeof lockSeenVersion>>;

/**
 * Records a pack version a runner carries: a version seen for the first time
 * is trusted when the published catalog lists its hash, else pending; a hash
 * seen before is refreshed; a new hash of a known version joins its candidates.
 */
export async function recordPackSighting(
  trx: Tx,
  catalog: PublishedCatalog,
  s: Sighting,
): Promise<SightingOutcome> {
  const retired = catalog.retires(s.packId, s.version);
  const manifest = manifestOf(s.actions);
  const first = await insertFirstSighting(trx, catalog, s, manifest, retired);
  if (first) return first;

  const version = await lockSeenVersion(trx, s);
  await trx
    .updateTable('pack_versions')
    .set({ last_seen_at: s.now, retired })
    .where('id', '=', version.id)
    .where('account_id', '=', s.accountId)
    .execute();
  const candidate = await trx
    .selectFrom('pack_candidates')
    .select(['id', 'state', 'manifest'])
    .where('pack_version_id', '=', version.id)
    .where('account_id', '=', s.accountId)
    .where('hash', '=', s.hash)
    .executeTakeFirst();
  if (candidate) return resightCandidate(trx, s, version, candidate, manifest);
  return addCandidate(trx, s, version, manifest);
}

/** A version no runner of the account carried before; null when one did. */
async function insertFirstSighting(
  trx: Tx,
  catalog: PublishedCatalog,
  s: Sighting,
  manifest: PackManifest,
  retired: boolean,
): Promise<SightingOutcome | null> {
  const autoTrust = catalog.lists(s.packId, s.version, s.hash);
  const inserted = await trx
    .insertInto('pack_versions')
    .values({
      account_id: s.accountId,
      pack_id: s.packId,
      version: s.version,
      trust_state: autoTrust ? 'trusted' : 'pending',
      trusted_hash: autoTrust ? s.hash : null,
      trusted_manifest: autoTrust ? JSON.stringify(manifest) : null,
      trusted_at: autoTrust ? s.now : null,
      retired,
      first_seen_at: s.now,
      last_seen_at: s.now,
    })
    .onConflict((oc) => oc.columns(['account_id', 'pack_id', 'version']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return null;
  await insertCandidate(trx, s, inserted.id, autoTrust ? 'trusted' : 'pending', manifest);
  return {
    packVersionId: inserted.id,
    event: autoTrust ? 'pack_trust.auto_trusted' : 'pack_trust.pending',
    changed: true,
  };
}

function lockSeenVersion(trx: Tx, s: Sighting) {
  return trx
    .selectFrom('pack_versions')
    .select(['id', 'trust_state', 'trusted_hash', 'trusted_manifest', 'retired'])
    .where('account_id', '=', s.accountId)
    .where('pack_id', '=', s.packId)
    .where('version', '=', s.version)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

/** A hash seen before: actions it lacked join its manifest; drift when another hash is trusted. */
async function resightCandidate(
  trx: Tx,
  s: Sighting,
  version: SeenVersion,
  candidate: { id: string; state: string; manifest: PackManifest },
  manifest: PackManifest,
): Promise<SightingOutcome> {
  const missing = Object.keys(manifest).filter((id) => !(id in candidate.manifest));
  const extended = { ...candidate.manifest };
  for (const id of missing) extended[id] = manifest[id]!;
  await trx
    .updateTable('pack_candidates')
    .set({
      last_seen_at: s.now,
      ...(missing.length ? { manifest: JSON.stringify(extended) } : {}),
    })
    .where('id', '=', candidate.id)
    .where('account_id', '=', s.accountId)
    .execute();
  // Actions another runner's admission held back join the trusted manifest of the same hash.
  if (missing.length && candidate.state === 'trusted') {
    await trx
      .updateTable('pack_versions')
      .set({ trusted_manifest: JSON.stringify({ ...version.trusted_manifest, ...extended }) })
      .where('id', '=', version.id)
      .where('account_id', '=', s.accountId)
      .execute();
  }
  const drift = version.trusted_hash !== null && candidate.state !== 'trusted';
  return {
    packVersionId: version.id,
    event: drift ? 'pack_trust.drift_detected' : null,
    changed: false,
  };
}

/** A new hash of a known version: pending, and drift when the version has a trusted hash. */
async function addCandidate(
  trx: Tx,
  s: Sighting,
  version: SeenVersion,
  manifest: PackManifest,
): Promise<SightingOutcome> {
  await insertCandidate(trx, s, version.id, 'pending', manifest);
  if (version.trust_state === 'rejected') {
    await trx
      .updateTable('pack_versions')
      .set({ trust_state: 'pending' })
      .where('id', '=', version.id)
      .where('account_id', '=', s.accountId)
      .execute();
  }
  return {
    packVersionId: version.id,
    event: version.trusted_hash !== null ? 'pack_trust.drift_detected' : 'pack_trust.pending',
    changed: true,
  };
}

async function insertCandidate(
  trx: Tx,
  s: Sighting,
  packVersionId: string,
  state: 'trusted' | 'pending',
  manifest: PackManifest,
) {
  await trx
    .insertInto('pack_candidates')
    .values({
      account_id: s.accountId,
      pack_version_id: packVersionId,
      hash: s.hash,
      state,
      manifest: JSON.stringify(manifest),
      first_runner_id: s.runnerId,
      first_seen_at: s.now,
      last_seen_at: s.now,
    })
    .execute();
}
