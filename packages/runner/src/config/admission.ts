export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];

export interface AdmissionRules {
  allow: string[];
  deny: string[];
  /** Unset means DEFAULT_MAX_RISK: critical actions need the host's explicit opt-in. */
  maxRisk: Risk | undefined;
  /**
   * Critical actions, by exact id, that this host loads although they render
   * free text into interpreter program text (the pack loader refuses them otherwise).
   */
  breakGlass: string[];
}

export const DEFAULT_MAX_RISK: Risk = 'high';

export type AdmissionDecision = { admitted: true } | { admitted: false; why: string };

export interface Admission {
  check(actionId: string, risk: string): AdmissionDecision;
}

const GLOB_CHARS = /^[A-Za-z0-9_.*?[\]!-]+$/;

/**
 * Shell-style glob over the whole action id: `*` matches any run (dots included),
 * `?` one character, `[abc]` / `[!abc]` a class. Anything else is literal.
 */
export function compileGlob(pattern: string): RegExp {
  if (!pattern || pattern.length > 256 || !GLOB_CHARS.test(pattern)) {
    throw new Error(`bad admission pattern ${JSON.stringify(pattern.slice(0, 64))}`);
  }
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`bad admission pattern ${JSON.stringify(pattern)}: unclosed [`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      if (!body || /[[\]!]/.test(body)) {
        throw new Error(`bad admission pattern ${JSON.stringify(pattern)}: bad class`);
      }
      source += `[${negate ? '^' : ''}${body.replace(/[\\^]/g, '\\$&')}]`;
      i = end;
    } else if (ch === ']' || ch === '!') {
      throw new Error(`bad admission pattern ${JSON.stringify(pattern)}: stray ${ch}`);
    } else source += ch.replace(/[.-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function riskRank(risk: string): number {
  return RISKS.indexOf(risk as Risk);
}

/** Local narrowing: throws on a bad pattern (start-up stops). */
export function compileAdmission(
  rules: Pick<AdmissionRules, 'allow' | 'deny' | 'maxRisk'>,
): Admission {
  const allow = rules.allow.map(compileGlob);
  const deny = rules.deny.map(compileGlob);
  const ceiling = riskRank(rules.maxRisk ?? DEFAULT_MAX_RISK);
  const ceilingRule =
    rules.maxRisk === undefined
      ? `admission.max_risk (unset, so ${DEFAULT_MAX_RISK}; set it to critical to admit critical actions)`
      : `admission.max_risk (${rules.maxRisk})`;
  return {
    check(actionId, risk) {
      if (allow.length > 0 && !allow.some((glob) => glob.test(actionId))) {
        return { admitted: false, why: 'not in admission.allow' };
      }
      if (deny.some((glob) => glob.test(actionId))) {
        return { admitted: false, why: 'matched admission.deny' };
      }
      const rank = riskRank(risk);
      if (rank < 0 || rank > ceiling) {
        return { admitted: false, why: `risk ${risk} is above ${ceilingRule}` };
      }
      return { admitted: true };
    },
  };
}
