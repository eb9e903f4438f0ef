import type { Selectable } from 'kysely';
import type { Db } from '../core/tx.js';
import type { PoliciesTable } from './tables.js';

export type PolicyScope = PoliciesTable['scope'];
export type PolicyRow = Selectable<PoliciesTable>;

const SCOPE_PRECEDENCE: Record<PolicyScope, number> = { runner: 0, group: 1, account: 2 };

/** The policy that governs a runner: its runner scope, else its group's, else the account's. */
export async function findGoverningPolicy(
  executor: Db,
  accountId: string,
  runner: { id: string; group: string },
): Promise<PolicyRow | null> {
  const rows = await executor
    .selectFrom('policies')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('scope', '=', 'runner'), eb('scope_ref', '=', runner.id)]),
        eb.and([eb('scope', '=', 'group'), eb('scope_ref', '=', runner.group)]),
        eb.and([eb('scope', '=', 'account'), eb('scope_ref', '=', '')]),
      ]),
    )
    .execute();
  let best: PolicyRow | null = null;
  for (const policy of rows) {
    if (!best || SCOPE_PRECEDENCE[policy.scope] < SCOPE_PRECEDENCE[best.scope]) best = policy;
  }
  return best;
}
