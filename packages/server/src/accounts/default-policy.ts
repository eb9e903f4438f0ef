import type { PolicyRules } from '../policy/tables.js';

/** What every new account starts with (control-plane spec, Policy). */
export const DEFAULT_POLICY_RULES: PolicyRules = {
  defaults: { low: 'allow', medium: 'allow', high: 'require_approval', critical: 'deny' },
  overrides: [],
  approval: { min_approvals: 1, allow_self_approval: true },
};
