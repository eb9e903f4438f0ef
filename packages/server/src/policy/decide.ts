import { type AccountQueries, accountQueries } from '../accounts/index.js';
import type { Db } from '../core/tx.js';
import { findGoverningPolicy, type PolicyRow } from './queries.js';
import { evaluateRules, type PolicyDecision } from './rules.js';
import type { PolicySnapshot } from './tables.js';

export type { PolicySnapshot } from './tables.js';

export interface PolicyQuestion {
  accountId: string;
  runner: { id: string; group: string };
  actionId: string;
  /** The risk from the trusted descriptor. */
  risk: string;
  /** API key or OAuth token: the agent stop switch applies. */
  viaAgent: boolean;
}

export interface PolicyOutcome {
  decision: PolicyDecision;
  /** The run's status_reason when denied: `policy_denied` or `agents_stopped`; null otherwise. */
  statusReason: string | null;
  snapshot: PolicySnapshot;
  approval: { min_approvals: number; allow_self_approval: boolean };
}

/** Used when no readable policy names an approval rule (the decision then denies anyway). */
const STRICT_APPROVAL = { min_approvals: 1, allow_self_approval: false };

export type DecidePolicy = (executor: Db, question: PolicyQuestion) => Promise<PolicyOutcome>;

/**
 * The one policy decision for a dispatch: the runner's policy, else its
 * group's, else the account's (a scoped policy replaces the default, it does
 * not merge); then the account-wide agent stop switch. No policy, an unknown
 * tier or an unreadable rule denies.
 */
export function createPolicyDecider(deps: {
  accounts: Pick<AccountQueries, 'findAccountById'>;
}): DecidePolicy {
  return async (executor, question) => {
    const account = await deps.accounts.findAccountById(executor, question.accountId);
    const policy = account
      ? await findGoverningPolicy(executor, question.accountId, question.runner)
      : null;
    return decide(question, policy, Boolean(account?.agents_stopped_at));
  };
}

/** The decider over the accounts domain's own functions, for callers outside app.ts's wiring. */
export const decidePolicy: DecidePolicy = createPolicyDecider({ accounts: accountQueries });

function decide(
  question: PolicyQuestion,
  policy: PolicyRow | null,
  agentsStopped: boolean,
): PolicyOutcome {
  const base = policy
    ? { policy_id: policy.id, scope: policy.scope, vsn: policy.vsn }
    : { policy_id: null, scope: null, vsn: null };
  const approval = policy ? approvalOf(policy.rules) : STRICT_APPROVAL;

  if (question.viaAgent && agentsStopped) {
    return {
      decision: 'deny',
      statusReason: 'agents_stopped',
      snapshot: { ...base, decision: 'deny', matched_rule: null, reason: 'agents_stopped' },
      approval,
    };
  }
  if (!policy) {
    return {
      decision: 'deny',
      statusReason: 'policy_denied',
      snapshot: { ...base, decision: 'deny', matched_rule: null, reason: 'no_policy' },
      approval,
    };
  }
  const evaluation = evaluateRules(policy.rules, question.actionId, question.risk);
  return {
    decision: evaluation.decision,
    statusReason: evaluation.decision === 'deny' ? 'policy_denied' : null,
    snapshot: {
      ...base,
      decision: evaluation.decision,
      matched_rule: evaluation.matchedRule,
      reason: evaluation.reason,
    },
    approval,
  };
}

function approvalOf(rules: unknown): PolicyOutcome['approval'] {
  const approval = (rules as { approval?: Record<string, unknown> } | null)?.approval;
  const min = approval?.min_approvals;
  const self = approval?.allow_self_approval;
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 1 || typeof self !== 'boolean') {
    return STRICT_APPROVAL;
  }
  return { min_approvals: min, allow_self_approval: self };
}
