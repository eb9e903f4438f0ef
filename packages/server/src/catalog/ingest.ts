import { type ActionDescriptor, descriptorDigest, type RunnerStateFrame } from '@emisar/protocol';
import type { AuditEventInput } from '../audit/index.js';
import { recordAuditEvents } from '../audit/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor } from '../core/actor.js';
import type { Tx } from '../core/tx.js';
import { contractDigest } from './manifest.js';
import type { PublishedCatalog } from './published.js';
import { forgetRunnerActions } from './queries.js';
import { recordPackSighting } from './sighting.js';

/** Bounds on one runner_state beyond its 2 MiB frame limit. */
export const RUNNER_STATE_MAX_ACTIONS = 2000;
export const RUNNER_STATE_MAX_PACKS = 200;

/** What a runner advertises: its packs (version and hash) and their actions. */
export type Advertisement = Pick<RunnerStateFrame, 'packs' | 'actions'>;

export interface AdvertisementDeps {
  catalog: PublishedCatalog;
  bus: NotifyBus;
}

/** The runner that advertised, as its audit events name it. */
export interface Advertiser {
  accountId: string;
  id: string;
  name: string;
}

/** Whether the advertisement exceeds what one runner_state may carry. */
export function advertisementTooLarge(advertised: Advertisement): boolean {
  return (
    advertised.actions.length > RUNNER_STATE_MAX_ACTIONS ||
    Object.keys(advertised.packs).length > RUNNER_STATE_MAX_PACKS
  );
}

/**
 * Stores what a runner advertises: its actions with their digests, and each
 * pack version it carries. A version seen for the first time is trusted when
 * the published catalog lists its hash, else pending. A different hash for a
 * trusted version is drift: it joins the version's candidates and is audited,
 * and only this runner's actions of that pack stop being dispatchable.
 */
export async function recordAdvertisement(
  trx: Tx,
  deps: AdvertisementDeps,
  runner: Advertiser,
  advertised: Advertisement,
  now: string,
): Promise<void> {
  const previous = await advertisedPackHashes(trx, runner);
  const sightings = await sightPacks(trx, deps, runner, advertised, previous, now);
  await replaceRunnerActions(trx, runner, advertised, now);
  if (sightings.trustChanged) {
    await publishAccountEvent(deps.bus, trx, {
      accountId: runner.accountId,
      kind: 'trust',
      id: runner.accountId,
    });
  }
  await recordAuditEvents(trx, sightings.events);
}

/** `<version>/<hash>` of each pack the runner advertised last time. */
async function advertisedPackHashes(trx: Tx, runner: Advertiser): Promise<Map<string, string>> {
  const rows = await trx
    .selectFrom('runner_actions')
    .select(['pack_id', 'pack_version', 'pack_hash'])
    .where('runner_id', '=', runner.id)
    .where('account_id', '=', runner.accountId)
    .execute();
  return new Map(rows.map((r) => [r.pack_id, `${r.pack_version}/${r.pack_hash}`]));
}

/** Records each advertised pack version; the trust events to audit. */
async function sightPacks(
  trx: Tx,
  deps: AdvertisementDeps,
  runner: Advertiser,
  advertised: Advertisement,
  previous: Map<string, string>,
  now: string,
): Promise<{ events: AuditEventInput[]; trustChanged: boolean }> {
  const actor: AuditActor = { kind: 'runner', id: runner.id, label: runner.name };
  const events: AuditEventInput[] = [];
  let trustChanged = false;
  const byPack = actionsByPack(advertised.actions);
  // A fixed order keeps two runners' transactions from locking versions crosswise.
  for (const packId of Object.keys(advertised.packs).sort()) {
    const { version, hash } = advertised.packs[packId]!;
    const seen = await recordPackSighting(trx, deps.catalog, {
      accountId: runner.accountId,
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
        accountId: runner.accountId,
        eventType: seen.event,
        actor,
        target: { kind: 'pack_version', id: seen.packVersionId, label: `${packId}@${version}` },
        payload: { pack_id: packId, version, hash, runner_id: runner.id },
      });
    }
    trustChanged ||= seen.changed;
  }
  return { events, trustChanged };
}

function actionsByPack(actions: readonly ActionDescriptor[]): Map<string, ActionDescriptor[]> {
  const byPack = new Map<string, ActionDescriptor[]>();
  for (const action of actions) {
    const list = byPack.get(action.pack_id) ?? [];
    list.push(action);
    byPack.set(action.pack_id, list);
  }
  return byPack;
}

/** The runner's actions become exactly those of the packs it advertised. */
async function replaceRunnerActions(
  trx: Tx,
  runner: Advertiser,
  advertised: Advertisement,
  now: string,
): Promise<void> {
  await forgetRunnerActions(trx, runner);
  const rows = advertised.actions
    .filter((a) => advertised.packs[a.pack_id] !== undefined)
    .map((a) => ({
      account_id: runner.accountId,
      runner_id: runner.id,
      action_id: a.id,
      pack_id: a.pack_id,
      pack_version: advertised.packs[a.pack_id]!.version,
      pack_hash: advertised.packs[a.pack_id]!.hash,
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
}
