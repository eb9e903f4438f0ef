import { z } from 'zod';
import { globCovers, globMatches } from './glob.js';
import type { PolicyDecision, PolicyRules } from './tables.js';

export type { PolicyDecision, PolicyRules };
export type Risk = keyof PolicyRules['defaults'];

export const RISK_TIERS: readonly Risk[] = ['low', 'medium', 'high', 'critical'];
export const DECISIONS: readonly PolicyDecision[] = ['allow', 'require_approval', 'deny'];
export const MAX_OVERRIDES = 200;
export const MAX_OVERRIDE_NAME = 100;
export const MAX_GLOB = 200;
export const MAX_MIN_APPROVALS = 10;

const STRICTNESS: Record<PolicyDecision, number> = { allow: 0, require_approval: 1, deny: 2 };
/** Action ids are dotted names; a glob adds `*`. */
const GLOB_PATTERN = /^[A-Za-z0-9_.*:-]+$/;

const decision = z.enum(['allow', 'require_approval', 'deny']);

const rulesSchema = z.strictObject({
  defaults: z.strictObject({ low: decision, medium: decision, high: decision, critical: decision }),
  overrides: z
    .array(
      z.strictObject({
        name: z
          .string()
          .trim()
          .min(1, 'must not be blank')
          .max(MAX_OVERRIDE_NAME)
          .refine((s) => !/[\p{Cc}]/u.test(s), 'must not contain control characters'),
        action: z
          .string()
          .min(1)
          .max(MAX_GLOB)
          .regex(GLOB_PATTERN, 'must be an action id glob (letters, digits, . _ - : and *)'),
        decision,
      }),
    )
    .max(MAX_OVERRIDES),
  approval: z.strictObject({
    min_approvals: z.number().int().min(1).max(MAX_MIN_APPROVALS),
    allow_self_approval: z.boolean(),
  }),
});

export type RulesValidation = { ok: true; rules: PolicyRules } | { ok: false; errors: string[] };

/**
 * Checks candidate rules: the shape, bounds, unique override names, and
 * monotonic tiers — a default may never get less strict as risk rises.
 */
export function validatePolicyRules(input: unknown): RulesValidation {
  const parsed = rulesSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues
        .slice(0, 10)
        .map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`),
    };
  }
  const rules = parsed.data;
  const errors: string[] = [];
  for (let i = 1; i < RISK_TIERS.length; i++) {
    const lower = RISK_TIERS[i - 1]!;
    const higher = RISK_TIERS[i]!;
    if (STRICTNESS[rules.defaults[higher]] < STRICTNESS[rules.defaults[lower]]) {
      errors.push(
        `defaults.${higher}: ${rules.defaults[higher]} is less strict than ${lower} (${rules.defaults[lower]}); defaults must never get less strict as risk rises`,
      );
    }
  }
  const seen = new Set<string>();
  rules.overrides.forEach((override, index) => {
    const key = override.name.toLowerCase();
    if (seen.has(key)) errors.push(`overrides.${index}.name: "${override.name}" is used twice`);
    seen.add(key);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules };
}

export interface RulesEvaluation {
  decision: PolicyDecision;
  /** `override:<name>` or `default:<tier>`, or null when nothing could decide. */
  matchedRule: string | null;
  /** Why: `override`, `default`, `unknown_risk`, `invalid_rules`. */
  reason: 'override' | 'default' | 'unknown_risk' | 'invalid_rules';
}

/**
 * The decision of one set of rules for one action: overrides in order (first
 * match wins), else the default of the action's risk tier. Anything it cannot
 * read — an unknown tier (even with a matching override) or decision — denies.
 */
export function evaluateRules(rules: unknown, actionId: string, risk: string): RulesEvaluation {
  const valid = isReadableRules(rules);
  if (!valid) return { decision: 'deny', matchedRule: null, reason: 'invalid_rules' };
  if (!(RISK_TIERS as readonly string[]).includes(risk)) {
    return { decision: 'deny', matchedRule: null, reason: 'unknown_risk' };
  }
  for (const override of valid.overrides) {
    if (globMatches(override.action, actionId)) {
      return {
        decision: override.decision,
        matchedRule: `override:${override.name}`,
        reason: 'override',
      };
    }
  }
  return {
    decision: valid.defaults[risk as Risk],
    matchedRule: `default:${risk}`,
    reason: 'default',
  };
}

/**
 * Stored rules are read leniently but never guessed: a row whose shape the
 * decision cannot rely on (hand-edited, from a future version) denies.
 */
function isReadableRules(rules: unknown): PolicyRules | null {
  const parsed = rulesSchema.safeParse(rules);
  return parsed.success ? parsed.data : null;
}

export interface RulesWarning {
  kind: 'shadowed_override' | 'unmatched_override';
  override: string;
  /** For a shadowed override: the earlier override that always wins over it. */
  shadowedBy?: string;
  message: string;
}

/**
 * What the editor points out: overrides that an earlier glob always beats,
 * and (given the catalog) overrides that match no known action.
 */
export function rulesWarnings(
  rules: PolicyRules,
  catalogActionIds: readonly string[] | null,
): RulesWarning[] {
  const warnings: RulesWarning[] = [];
  rules.overrides.forEach((override, index) => {
    const earlier = rules.overrides
      .slice(0, index)
      .find((candidate) => globCovers(candidate.action, override.action));
    if (earlier) {
      warnings.push({
        kind: 'shadowed_override',
        override: override.name,
        shadowedBy: earlier.name,
        message: `"${override.name}" never applies: the earlier "${earlier.name}" (${earlier.action}) matches every action it matches.`,
      });
    }
    if (catalogActionIds && !catalogActionIds.some((id) => globMatches(override.action, id))) {
      warnings.push({
        kind: 'unmatched_override',
        override: override.name,
        message: `"${override.name}" (${override.action}) matches no action in the catalog.`,
      });
    }
  });
  return warnings;
}
