import type { Tx } from '../core/tx.js';
import type { PolicyRules } from './tables.js';

/** What every new account starts with (control-plane spec, Policy). */
export const DEFAULT_POLICY_RULES: PolicyRules = {
  defaults: { low: 'allow', medium: 'allow', high: 'require_approval', critical: 'deny' },
  overrides: [],
  approval: { min_approvals: 1, allow_self_approval: true },
};

/** A new workspace's account-wide policy (members creates workspaces through this). */
export async function createDefaultPolicy(trx: Tx, accountId: string): Promise<void> {
  await trx
    .insertInto('policies')
    .values({
      account_id: accountId,
      scope: 'account',
      rules: JSON.stringify(DEFAULT_POLICY_RULES),
    })
    .execute();
}
