import type { ActionDescriptor } from '@emisar/protocol';
import type { Db } from '../core/tx.js';
import { advertisedWithTrust } from './advertised.js';
import { contractDigest } from './manifest.js';

export type DispatchRefusal =
  | 'unknown_action'
  | 'pack_untrusted'
  | 'pack_retired'
  | 'action_contract_changed'
  /** Not returned by resolveDispatchContract (see `executableAvailable`); the runs domain uses it after its pack-scope check. */
  | 'executable_unavailable';

export type DispatchContract =
  | {
      ok: true;
      packId: string;
      version: string;
      /** `<pack id>@<version>/<trusted hash>`. */
      packRef: string;
      hash: string;
      /** From the trusted manifest, never the runner's latest claim. */
      descriptor: ActionDescriptor;
      /** The runner reports the action's primary executable on its PATH. */
      executableAvailable: boolean;
    }
  | { ok: false; reason: DispatchRefusal };

export interface DispatchContractQuery {
  accountId: string;
  runnerId: string;
  actionId: string;
  /** The caller's `pack_ref`, when it pinned one. */
  packRef?: string | undefined;
}

/**
 * What a dispatch of `actionId` to this runner executes, checked in the
 * spec's order: the runner advertises the action; its pack version is trusted
 * and the runner advertises exactly the trusted hash (a drifted runner is
 * refused; others are not); a pinned `pack_ref` names that trusted hash; the
 * version is not retired (unless overridden); the runner's descriptor equals
 * the trusted one.
 */
export async function resolveDispatchContract(
  db: Db,
  query: DispatchContractQuery,
): Promise<DispatchContract> {
  const row = await advertisedWithTrust(db)
    .select([
      'ra.pack_id',
      'ra.pack_version',
      'ra.pack_hash',
      'ra.descriptor',
      'ra.primary_executable_available',
      'pv.trusted_hash',
      'pv.trusted_manifest',
      'pv.retired',
      'pv.retirement_override',
    ])
    .where('ra.account_id', '=', query.accountId)
    .where('ra.runner_id', '=', query.runnerId)
    .where('ra.action_id', '=', query.actionId)
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown_action' };
  const { trusted_hash: trustedHash, trusted_manifest: manifest } = row;
  if (!trustedHash || !manifest || row.pack_hash !== trustedHash) {
    return { ok: false, reason: 'pack_untrusted' };
  }
  const packRef = `${row.pack_id}@${row.pack_version}/${trustedHash}`;
  if (query.packRef !== undefined && query.packRef !== packRef) {
    return { ok: false, reason: 'pack_untrusted' };
  }
  if (row.retired && !row.retirement_override) return { ok: false, reason: 'pack_retired' };
  const trusted = manifest[query.actionId];
  if (!trusted || contractDigest(trusted) !== contractDigest(row.descriptor)) {
    return { ok: false, reason: 'action_contract_changed' };
  }
  return {
    ok: true,
    packId: row.pack_id,
    version: row.pack_version,
    packRef,
    hash: trustedHash,
    descriptor: trusted,
    executableAvailable: row.primary_executable_available,
  };
}
