import { type ActionDescriptor, descriptorDigest, type RunnerStateFrame } from '@emisar/protocol';
import type { Kysely, Transaction } from 'kysely';
import type { AuditEventInput } from '../audit/record.js';
import { recordAuditEvents } from '../audit/record.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { contractDescriptor, contractDigest } from './manifest.js';
import type { PublishedCatalog } from './published.js';
import type { PackManifest } from './tables.js';

/** Bounds on one runner_state beyond its 2 MiB frame limit. */
export const RUNNER_STATE_MAX_ACTIONS = 2000;
export const RUNNER_STATE_MAX_PACKS = 200;

export interface IngestDeps {
  catalog: PublishedCatalog;
  clock: Clock;
  bus: NotifyBus;
}

export interface IngestConnection {
  runnerId: string;
  accountId: string;
  generation: number;
}

export type IngestOutcome =
  /** `groupIgnored`: the runner asserted a group other than its own (recorded as an issue). */
  | { status: 'ingested'; groupIgnored: boolean }
  /** A newer connection holds the runner: nothing was written. */
  | { status: 'superseded' }
  | { status: 'too_large' };

/**
 * Stores what a runner advertises, fenced by its connection generation: its
 * identity facts, its actions with their digests, and each pack version it
 * carries. A version seen for the first time is trusted when the published
 * catalog lists its hash, else pending. A different hash for a trusted
 * version is drift: it joins the version's candidates and is audited, and
 * only this runner's actions of that pack stop being dispatchable.
 */
export async function ingestRunnerState(
  db: Kysely<Database>,
  deps: IngestDeps,
  conn: IngestConnection,
  frame: RunnerStateFrame,
): Promise<IngestOutcome> {
  if (
    frame.actions.length > RUNNER_STATE_MAX_ACTIONS ||
    Object.keys(frame.packs).length > RUNNER_STATE_MAX_PACKS
  ) {
    return { status: 'too_large' };
  }
  return db.transaction().execute(async (trx) => {
    const runner = await trx
      .selectFrom('runners')
      .select(['id', 'name', 'group_name'])
      .where('id', '=', conn.runnerId)
      .where('account_id', '=', conn.accountId)
      .where('connection_generation', '=', conn.generation)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!runner) return { status: 'superseded' } as const;
    const now = deps.clock.now().toISOString();
    const asserted = frame.group !== '' && frame.group !== runner.group_name ? frame.group : null;
    await trx
      .updateTable('runners')
      .set({
        hostname: frame.hostname,
        labels: JSON.stringify(frame.labels),
        version: frame.version,
        degraded_packs: JSON.stringify(frame.degraded_packs),
        asserted_group: asserted,
        state_received_at: now,
      })
      .where('id', '=', runner.id)
      .where('account_id', '=', conn.accountId)
      .execute();

    const previous = new Map(
      (
        await trx
          .selectFrom('runner_actions')
          .select(['pack_id', 'pack_version', 'pack_hash'])
          .where('runner_id', '=', runner.id)
          .where('account_id', '=', conn.accountId)
          .execute()
      ).map((r) => [r.pack_id, `${r.pack_version}/${r.pack_hash}`]),
    );

    const actor: AuditActor = { kind: 'runner', id: runner.id, label: runner.name };
    const events: AuditEventInput[] = [];
    let trustChanged = false;
    const byPack = new Map<string, ActionDescriptor[]>();
    for (const action of frame.actions) {
      const list = byPack.get(action.pack_id) ?? [];
      list.push(action);
      byPack.set(action.pack_id, list);
    }
    // A fixed order keeps two runners' transactions from locking versions crosswise.
    for (const packId of Object.keys(frame.packs).sort()) {
      const { version, hash } = frame.packs[packId]!;
      const seen = await recordPackSighting(trx, deps, {
        accountId: conn.accountId,
        runnerId: runner.id,
        packId,
        version,
        hash,
        actions: byPack.get(packId) ?? [],
        now,
      });
      const changedOnRunner = previous.get(packId) !== `${version}/${hash}`;
      if (seen.event && (seen.event !== 'pack_trust.drift_detected' || changedOnRunner)) {
        trustChanged = true;
        events.push({
          accountId: conn.accountId,
          eventType: seen.event,
          actor,
          target: { kind: 'pack_version', id: seen.packVersionId, label: `${packId}@${version}` },
          payload: { pack_id: packId, version, hash, runner_id: runner.id },
        });
      }
      trustChanged ||= seen.changed;
    }

    await trx
      .deleteFrom('runner_actions')
      .where('runner_id', '=', runner.id)
      .where('account_id', '=', conn.accountId)
      .execute();
    const rows = frame.actions
      .filter((a) => frame.packs[a.pack_id] !== undefined)
      .map((a) => ({
        account_id: conn.accountId,
        runner_id: runner.id,
        action_id: a.id,
        pack_id: a.pack_id,
        pack_version: frame.packs[a.pack_id]!.version,
        pack_hash: frame.packs[a.pack_id]!.hash,
        descriptor: JSON.stringify(a),
        descriptor_digest: descriptorDigest(a),
        contract_digest: contractDigest(a),
        primary_executable_available: a.primary_executable_available,
        updated_at: now,
      }));
    for (let i = 0; i < rows.length; i += 500) {
      await trx
        .insertInto('runner_actions')
        .values(rows.slice(i, i + 500))
        .execute();
    }
    await publishAccountEvent(deps.bus, trx, {
      accountId: conn.accountId,
      kind: 'runner',
      id: runner.id,
    });
    if (trustChanged) {
      await publishAccountEvent(deps.bus, trx, {
        accountId: conn.accountId,
        kind: 'trust',
        id: conn.accountId,
      });
    }
    await recordAuditEvents(trx, events);
    return { status: 'ingested', groupIgnored: asserted !== null } as const;
  });
}

interface Sighting {
  accountId: string;
  runnerId: string;
  packId: string;
  version: string;
  hash: string;
  actions: ActionDescriptor[];
  now: string;
}

type SightingEvent = 'pack_trust.auto_trusted' | 'pack_trust.pending' | 'pack_trust.drift_detected';

export function manifestOf(actions: readonly ActionDescriptor[]): PackManifest {
  const manifest: PackManifest = {};
  for (const action of actions) manifest[action.id] = contractDescriptor(action);
  return manifest;
}

async function recordPackSighting(
  trx: Transaction<Database>,
  deps: IngestDeps,
  s: Sighting,
): Promise<{ packVersionId: string; event: SightingEvent | null; changed: boolean }> {
  const retired = deps.catalog.retires(s.packId, s.version);
  const autoTrust = deps.catalog.lists(s.packId, s.version, s.hash);
  const manifest = manifestOf(s.actions);
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
  if (inserted) {
    await insertCandidate(trx, s, inserted.id, autoTrust ? 'trusted' : 'pending', manifest);
    return {
      packVersionId: inserted.id,
      event: autoTrust ? 'pack_trust.auto_trusted' : 'pack_trust.pending',
      changed: true,
    };
  }

  const version = await trx
    .selectFrom('pack_versions')
    .select(['id', 'trust_state', 'trusted_hash', 'trusted_manifest', 'retired'])
    .where('account_id', '=', s.accountId)
    .where('pack_id', '=', s.packId)
    .where('version', '=', s.version)
    .forUpdate()
    .executeTakeFirstOrThrow();
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
  if (candidate) {
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
  trx: Transaction<Database>,
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
