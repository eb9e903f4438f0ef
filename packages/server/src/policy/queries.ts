import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import type { PoliciesTable } from './tables.js';

export type PolicyScope = PoliciesTable['scope'];
export type PolicyRow = Selectable<PoliciesTable>;

const SCOPE_PRECEDENCE: Record<PolicyScope, number> = { runner: 0, group: 1, account: 2 };

/**
 * The policy that governs a runner (runner scope, else its group, else the
 * account) and the account's stop switch, in one round trip.
 */
export async function findEffectivePolicy(
  executor: Kysely<Database>,
  accountId: string,
  runner: { id: string; group: string },
): Promise<{ policy: PolicyRow | null; agentsStopped: boolean }> {
  const rows = await executor
    .selectFrom('accounts as a')
    .leftJoin('policies as p', (join) =>
      join
        .onRef('p.account_id', '=', 'a.id')
        .on('p.deleted_at', 'is', null)
        .on((eb) =>
          eb.or([
            eb.and([eb('p.scope', '=', 'runner'), eb('p.scope_ref', '=', runner.id)]),
            eb.and([eb('p.scope', '=', 'group'), eb('p.scope_ref', '=', runner.group)]),
            eb.and([eb('p.scope', '=', 'account'), eb('p.scope_ref', '=', '')]),
          ]),
        ),
    )
    .select([
      'a.agents_stopped_at',
      'p.id',
      'p.account_id',
      'p.scope',
      'p.scope_ref',
      'p.vsn',
      'p.rules',
      'p.created_at',
      'p.updated_at',
      'p.deleted_at',
    ])
    .where('a.id', '=', accountId)
    .execute();
  if (rows.length === 0) return { policy: null, agentsStopped: false };
  const agentsStopped = rows[0]!.agents_stopped_at !== null;
  let best: PolicyRow | null = null;
  for (const { agents_stopped_at: _, ...row } of rows) {
    if (row.id === null) continue;
    const policy = row as PolicyRow;
    if (!best || SCOPE_PRECEDENCE[policy.scope] < SCOPE_PRECEDENCE[best.scope]) best = policy;
  }
  return { policy: best, agentsStopped };
}
