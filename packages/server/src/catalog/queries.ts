import type { ActionDescriptor } from '@emisar/protocol';
import { sql } from 'kysely';
import type { Db, Tx } from '../core/tx.js';
import { advertisedWithTrust } from './advertised.js';
import { resolveDispatchContract } from './dispatch-contract.js';
import { contractDigest } from './manifest.js';

/** How a runner advertises one action, and whether a dispatch would pass the trust checks. */
export interface AdvertisedAction {
  id: string;
  pack_id: string;
  pack_version: string;
  pack_hash: string;
  title: string;
  risk: string;
  descriptor_digest: string;
  primary_executable_available: boolean;
  /** A critical action the host let past the interpreter rule (its admission.break_glass). */
  break_glass: boolean;
  /** `trusted`: the runner has the trusted hash; `drift`: another hash of a trusted version; `untrusted`: not trusted yet. */
  trust: 'trusted' | 'drift' | 'untrusted';
}

/** The actions one runner advertises, by action id, each with its trust. */
export async function advertisedActions(
  db: Db,
  accountId: string,
  runnerId: string,
): Promise<AdvertisedAction[]> {
  const rows = await advertisedWithTrust(db)
    .select([
      'ra.action_id',
      'ra.pack_id',
      'ra.pack_version',
      'ra.pack_hash',
      'ra.descriptor',
      'ra.descriptor_digest',
      'ra.primary_executable_available',
      'pv.trusted_hash',
    ])
    .where('ra.account_id', '=', accountId)
    .where('ra.runner_id', '=', runnerId)
    .orderBy('ra.action_id')
    .execute();
  return rows.map((r) => ({
    id: r.action_id,
    pack_id: r.pack_id,
    pack_version: r.pack_version,
    pack_hash: r.pack_hash,
    title: r.descriptor.title,
    risk: r.descriptor.risk,
    descriptor_digest: r.descriptor_digest,
    primary_executable_available: r.primary_executable_available,
    break_glass: r.descriptor.break_glass === true,
    trust:
      r.trusted_hash === null ? 'untrusted' : r.trusted_hash === r.pack_hash ? 'trusted' : 'drift',
  }));
}

/** A deleted runner advertises nothing. */
export async function forgetRunnerActions(
  trx: Tx,
  runner: { id: string; accountId: string },
): Promise<void> {
  await trx
    .deleteFrom('runner_actions')
    .where('runner_id', '=', runner.id)
    .where('account_id', '=', runner.accountId)
    .execute();
}

/** Deletes the account's pack versions no runner advertises and none has seen since `before`. */
export function forgetUnseenPackVersions(trx: Tx, accountId: string, before: string) {
  return trx
    .deleteFrom('pack_versions as pv')
    .where('pv.account_id', '=', accountId)
    .where('pv.last_seen_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('runner_actions as ra')
            .select('ra.action_id')
            .whereRef('ra.account_id', '=', 'pv.account_id')
            .whereRef('ra.pack_id', '=', 'pv.pack_id')
            .whereRef('ra.pack_version', '=', 'pv.version'),
        ),
      ),
    )
    .returning(['pv.id', 'pv.pack_id', 'pv.version'])
    .execute();
}

/** One trusted action as a runner offers it: the descriptor is the trusted manifest's. */
export interface TrustedOffering {
  runnerId: string;
  actionId: string;
  packId: string;
  packRef: string;
  descriptor: ActionDescriptor;
  executableAvailable: boolean;
  /** The runner describes the action as the trusted manifest does (else a dispatch is refused). */
  contractMatches: boolean;
}

/**
 * Every action the account's runners offer from a trusted, unretired pack
 * version whose hash they match exactly, with the trusted descriptor.
 */
export async function trustedOfferings(db: Db, accountId: string): Promise<TrustedOffering[]> {
  const rows = await advertisedWithTrust(db)
    .select([
      'ra.runner_id',
      'ra.action_id',
      'ra.pack_id',
      'ra.pack_version',
      'ra.pack_hash',
      'ra.primary_executable_available',
      'ra.contract_digest',
      'pv.trusted_manifest',
    ])
    .where('ra.account_id', '=', accountId)
    .whereRef('pv.trusted_hash', '=', 'ra.pack_hash')
    .where((eb) => eb.or([eb('pv.retired', '=', false), eb('pv.retirement_override', '=', true)]))
    .orderBy('ra.action_id')
    .orderBy('ra.runner_id')
    .execute();
  return rows.flatMap((r) => {
    const descriptor = r.trusted_manifest?.[r.action_id];
    if (!descriptor) return [];
    return [
      {
        runnerId: r.runner_id,
        actionId: r.action_id,
        packId: r.pack_id,
        packRef: `${r.pack_id}@${r.pack_version}/${r.pack_hash}`,
        descriptor,
        executableAvailable: r.primary_executable_available,
        contractMatches: contractDigest(descriptor) === r.contract_digest,
      },
    ];
  });
}

/** The catalog's tables as other domains may read and write them. */
export const catalogQueries = {
  trustedOfferings,
  advertisedActions,
  forgetRunnerActions,
  forgetUnseenPackVersions,
  resolveDispatchContract,
  advertisedActionRisks,
};
export type CatalogQueries = typeof catalogQueries;

/**
 * The distinct actions these runners advertise with the risk that decides
 * dispatch: the trusted manifest's, else the advertised one (untrusted packs).
 */
export async function advertisedActionRisks(
  db: Db,
  accountId: string,
  runnerIds: readonly string[],
  limit: number,
): Promise<{ action_id: string; risk: string }[]> {
  if (runnerIds.length === 0) return [];
  const rows = await advertisedWithTrust(db)
    .select([
      'ra.action_id',
      sql<string>`coalesce(pv.trusted_manifest -> ra.action_id ->> 'risk', ra.descriptor ->> 'risk')`.as(
        'risk',
      ),
    ])
    .distinct()
    .where('ra.account_id', '=', accountId)
    .where('ra.runner_id', 'in', runnerIds)
    .orderBy('ra.action_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ action_id: row.action_id, risk: row.risk ?? '' }));
}
