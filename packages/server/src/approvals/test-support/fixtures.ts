import type { Kysely } from 'kysely';
import { accountQueries } from '../../accounts/queries.js';
import { authQueries } from '../../auth/queries.js';
import type { NotifyBus } from '../../bus/notify-bus.js';
import { resolveDispatchContract } from '../../catalog/dispatch-contract.js';
import { publishedCatalog } from '../../catalog/published.js';
import { catalogQueries } from '../../catalog/queries.js';
import type { Clock } from '../../core/clock.js';
import { credentialQueries } from '../../credentials/queries.js';
import type { Database } from '../../db/schema.js';
import { fleetQueries } from '../../fleet/queries.js';
import { ingestRunnerState } from '../../fleet/runner-state.js';
import { insertRunner, repoPacksState } from '../../fleet/test-support/fixtures.js';
import { memberQueries } from '../../members/queries.js';
import { decidePolicy } from '../../policy/decide.js';
import { insertRun } from '../../runs/test-support/fixtures.js';
import { createReleaseChecks } from '../release-checks.js';
import type { RunRelease } from '../run-release.js';

/**
 * A runner of `group` advertising the repo's packs, trusted through the
 * published catalog, as the fleet would leave it after `runner_state`.
 */
export async function trustedRunner(
  db: Kysely<Database>,
  deps: { bus: NotifyBus; clock: Clock },
  accountId: string,
  group = 'web',
): Promise<{ id: string; name: string; group: string }> {
  const state = await repoPacksState();
  const catalog = publishedCatalog(
    Object.entries(state.packs).map(([pack_id, p]) => ({ pack_id, ...p })),
  );
  const runner = await insertRunner(db, accountId, { group });
  await ingestRunnerState(
    db,
    { catalog, clock: deps.clock, bus: deps.bus },
    { accountId, runnerId: runner.id, generation: 1 },
    state,
  );
  const row = await db
    .selectFrom('runners')
    .select('name')
    .where('id', '=', runner.id)
    .executeTakeFirstOrThrow();
  return { id: runner.id, name: row.name, group };
}

/** A run parked in `pending_approval` for a trusted action, as the create path leaves it. */
export async function parkedRun(
  db: Kysely<Database>,
  secretKey: Buffer,
  input: {
    accountId: string;
    runnerId: string;
    actionId: string;
    userId: string;
    membershipId: string;
    apiKeyId?: string | null;
    argsText?: string;
  },
) {
  const contract = await resolveDispatchContract(db, {
    accountId: input.accountId,
    runnerId: input.runnerId,
    actionId: input.actionId,
  });
  if (!contract.ok) throw new Error(`fixture action is not dispatchable: ${contract.reason}`);
  const run = await insertRun(db, secretKey, {
    accountId: input.accountId,
    runnerId: input.runnerId,
    status: 'pending_approval',
    argsText: input.argsText ?? '{}',
    patch: {
      action_id: input.actionId,
      pack_id: contract.packId,
      pack_version: contract.version,
      pack_ref: contract.packRef,
      expected_pack_hash: contract.hash,
      risk: contract.descriptor.risk,
      requested_by: input.userId,
      membership_id: input.membershipId,
      api_key_id: input.apiKeyId ?? null,
      source: input.apiKeyId ? 'mcp' : 'operator',
      approval_required: true,
    },
  });
  const row = await db
    .selectFrom('runs')
    .select(['args_sha256', 'args_redacted'])
    .where('id', '=', run.id)
    .executeTakeFirstOrThrow();
  return { runId: run.id, contract, argsSha256: row.args_sha256, argsRedacted: row.args_redacted };
}

/** A RunRelease that records what approvals asked of the runs domain (a seam for tests). */
export class RecordingRunRelease implements RunRelease {
  readonly calls: { kind: 'release' | 'deny'; runId: string; statusReason?: string }[] = [];
  async release(_trx: Kysely<Database>, runId: string): Promise<void> {
    this.calls.push({ kind: 'release', runId });
  }
  async deny(_trx: Kysely<Database>, runId: string, statusReason: string): Promise<void> {
    this.calls.push({ kind: 'deny', runId, statusReason });
  }
  async facts(): Promise<null> {
    return null;
  }
}

/** The other domains' data functions an approval service takes, as app.ts passes them. */
export const approvalDataDeps = {
  checks: createReleaseChecks({ fleet: fleetQueries, catalog: catalogQueries }),
  decidePolicy,
  accounts: accountQueries,
  auth: authQueries,
  members: memberQueries,
  credentials: credentialQueries,
};
