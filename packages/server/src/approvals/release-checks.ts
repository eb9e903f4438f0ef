import type { Kysely, Selectable } from 'kysely';
import { resolveDispatchContract } from '../catalog/dispatch-contract.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { findRunnerForDispatch } from '../fleet/queries.js';
import { decidePolicy } from '../policy/decide.js';
import type { ApprovalRequestsTable } from './tables.js';

type ApprovalRow = Selectable<ApprovalRequestsTable>;

export interface RunnerNow {
  id: string;
  name: string;
  group: string;
  disabled: boolean;
  deleted: boolean;
}

export type ContractNow = { ok: true; risk: string } | { ok: false; reason: string };

/**
 * What an approval re-reads from the fleet and catalog at release: the runner
 * as it is now (its group may have changed) and whether the pack is still
 * trusted with the same contract (risk from the trusted descriptor).
 */
export interface ReleaseChecks {
  runner(trx: Kysely<Database>, accountId: string, runnerId: string): Promise<RunnerNow | null>;
  contract(
    trx: Kysely<Database>,
    query: { accountId: string; runnerId: string; actionId: string; packRef: string },
  ): Promise<ContractNow>;
}

export const fleetReleaseChecks: ReleaseChecks = {
  async runner(trx, accountId, runnerId) {
    const runner = await findRunnerForDispatch(trx, accountId, runnerId);
    return runner && runner.id === runnerId ? runner : null;
  },
  async contract(trx, query) {
    const contract = await resolveDispatchContract(trx, query);
    return contract.ok ? { ok: true, risk: contract.descriptor.risk } : contract;
  },
};

/**
 * The re-checks on the approving vote, under the request's row lock: the
 * runner, the pack's trust and contract, the initiator's membership or key,
 * and the current policy. Returns a deny reason, or null to release.
 */
export async function refusalAtRelease(
  trx: Kysely<Database>,
  request: ApprovalRow,
  deps: { checks: ReleaseChecks; clock: Clock },
): Promise<string | null> {
  const { checks } = deps;
  const runner = await checks.runner(trx, request.account_id, request.runner_id);
  if (!runner || runner.deleted) return 'runner_deleted';
  if (runner.disabled) return 'runner_disabled';
  const contract = await checks.contract(trx, {
    accountId: request.account_id,
    runnerId: request.runner_id,
    actionId: request.action_id,
    packRef: request.pack_ref,
  });
  if (!contract.ok) return contract.reason;
  if (!(await initiatorStillLive(trx, request, deps.clock))) return 'initiator_revoked';
  const policy = await decidePolicy(trx, {
    accountId: request.account_id,
    runner: { id: runner.id, group: runner.group },
    actionId: request.action_id,
    risk: contract.risk,
    viaAgent: request.api_key_id !== null,
  });
  return policy.decision === 'deny' ? (policy.statusReason ?? 'policy_denied') : null;
}

async function initiatorStillLive(trx: Kysely<Database>, request: ApprovalRow, clock: Clock) {
  const now = clock.now().toISOString();
  let query = trx
    .selectFrom('memberships as m')
    .select('m.id')
    .where('m.account_id', '=', request.account_id)
    .where('m.deleted_at', 'is', null)
    .where('m.accepted_at', 'is not', null)
    .where('m.suspended_at', 'is', null);
  if (request.api_key_id) {
    // The key or its rotated successor: a rotation keeps the credential's lineage.
    const lineage = trx
      .selectFrom('api_keys')
      .select('lineage_id')
      .where('id', '=', request.api_key_id)
      .where('account_id', '=', request.account_id);
    query = query
      .innerJoin('api_keys as k', 'k.membership_id', 'm.id')
      .where('k.lineage_id', '=', lineage)
      .where('k.account_id', '=', request.account_id)
      .where('k.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('k.expires_at', 'is', null), eb('k.expires_at', '>', now)]));
  } else if (request.requested_by_user_id) {
    query = query.where('m.user_id', '=', request.requested_by_user_id);
  } else {
    return false;
  }
  return (await query.executeTakeFirst()) !== undefined;
}
