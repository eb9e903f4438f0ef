import type { CatalogQueries } from '../catalog/index.js';
import type { Tx } from '../core/tx.js';
import type { FleetQueries } from '../fleet/index.js';
import type { ApprovalRow, ApprovalsContext, ReleaseChecks } from './context.js';

/** The release checks over the fleet's and the catalog's data functions. */
export function createReleaseChecks(deps: {
  fleet: Pick<FleetQueries, 'findRunnerForDispatch'>;
  catalog: Pick<CatalogQueries, 'resolveDispatchContract'>;
}): ReleaseChecks {
  return {
    async runner(trx, accountId, runnerId) {
      const runner = await deps.fleet.findRunnerForDispatch(trx, accountId, runnerId);
      return runner && runner.id === runnerId ? runner : null;
    },
    async contract(trx, query) {
      const contract = await deps.catalog.resolveDispatchContract(trx, query);
      return contract.ok ? { ok: true, risk: contract.descriptor.risk } : contract;
    },
  };
}

/**
 * The re-checks on the approving vote, under the request's row lock: the
 * runner, the pack's trust and contract, the initiator's membership or key,
 * and the current policy. Returns a deny reason, or null to release.
 */
export async function refusalAtRelease(
  trx: Tx,
  request: ApprovalRow,
  deps: Pick<ApprovalsContext, 'checks' | 'clock' | 'decidePolicy' | 'members' | 'credentials'>,
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
  if (!(await initiatorStillLive(deps, trx, request))) return 'initiator_revoked';
  const policy = await deps.decidePolicy(trx, {
    accountId: request.account_id,
    runner: { id: runner.id, group: runner.group },
    actionId: request.action_id,
    risk: contract.risk,
    viaAgent: request.api_key_id !== null,
  });
  return policy.decision === 'deny' ? (policy.statusReason ?? 'policy_denied') : null;
}

/**
 * Whether whoever asked may still: the person still an active member, or the
 * API key (or its rotated successor: a rotation keeps the lineage) still live
 * and held by an active member.
 */
async function initiatorStillLive(
  deps: Pick<ApprovalsContext, 'clock' | 'members' | 'credentials'>,
  trx: Tx,
  request: ApprovalRow,
): Promise<boolean> {
  const accountId = request.account_id;
  if (request.api_key_id) {
    const lineageId = await deps.credentials.apiKeyLineage(trx, accountId, request.api_key_id);
    if (!lineageId) return false;
    const now = deps.clock.now().toISOString();
    const holders = await deps.credentials.liveLineageKeyHolders(trx, accountId, lineageId, now);
    for (const membershipId of holders) {
      const member = await deps.members.findJoinedMembership(trx, accountId, { membershipId });
      if (member && member.suspended_at === null) return true;
    }
    return false;
  }
  if (!request.requested_by_user_id) return false;
  const member = await deps.members.findActiveMembership(
    trx,
    accountId,
    request.requested_by_user_id,
  );
  return member !== undefined;
}
