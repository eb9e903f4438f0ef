import type { Kysely } from 'kysely';
import { resolveDispatchContract } from '../catalog/dispatch-contract.js';
import type { Database } from '../db/schema.js';
import { findRunnerForDispatch } from '../fleet/queries.js';

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
