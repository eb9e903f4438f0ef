import type { JsonObject } from '@emisar/protocol';
import { type PolicyRules, RISK_TIERS } from './rules.js';

/**
 * What changed between two versions of a policy, for `policy.updated`: tier
 * defaults and approval settings field by field, overrides by name (added,
 * removed, changed) and whether their order changed.
 */
export function policyDiff(before: PolicyRules | null, after: PolicyRules): JsonObject {
  const defaults = RISK_TIERS.filter((tier) => before?.defaults[tier] !== after.defaults[tier]).map(
    (tier) => ({ tier, from: before?.defaults[tier] ?? null, to: after.defaults[tier] }),
  );
  const approval = (['min_approvals', 'allow_self_approval'] as const)
    .filter((field) => before?.approval[field] !== after.approval[field])
    .map((field) => ({ field, from: before?.approval[field] ?? null, to: after.approval[field] }));
  const old = new Map((before?.overrides ?? []).map((o) => [o.name, o]));
  const now = new Map(after.overrides.map((o) => [o.name, o]));
  const kept = after.overrides.filter((o) => old.has(o.name)).map((o) => o.name);
  const keptBefore = (before?.overrides ?? []).filter((o) => now.has(o.name)).map((o) => o.name);
  return {
    defaults,
    approval,
    overrides: {
      added: after.overrides
        .filter((o) => !old.has(o.name))
        .map((o) => ({ name: o.name, action: o.action, decision: o.decision })),
      removed: [...old.keys()].filter((name) => !now.has(name)),
      changed: after.overrides
        .filter((o) => {
          const was = old.get(o.name);
          return was && (was.action !== o.action || was.decision !== o.decision);
        })
        .map((o) => {
          const was = old.get(o.name)!;
          return {
            name: o.name,
            from: { action: was.action, decision: was.decision },
            to: { action: o.action, decision: o.decision },
          };
        }),
      reordered: kept.some((name, i) => keptBefore[i] !== name),
    },
  };
}
