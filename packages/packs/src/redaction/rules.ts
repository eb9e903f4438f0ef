import { RE2JS } from 're2js';
import type { RedactionRuleSpec } from '../types.js';
import type { BuiltinRedactionRule } from './builtin.js';
import { PackRegexStage, packRegexPass } from './pack-regex.js';
import { type LineStage, type PassResult, regexScanner, runScan, ScanStage } from './scan.js';

export type RedactionRuleInput = RedactionRuleSpec | BuiltinRedactionRule;

export interface CompiledRule {
  readonly name: string;
  readonly type: 'regex' | 'literal' | 'builtin';
  /** The name a combined pass counts its other hits under. */
  readonly alsoName?: string;
  /** Redacts text made of whole lines (or a part of one between private-key blocks). */
  apply(text: string): PassResult;
  /** A fresh stage for one line too long to hold whole. */
  stage(): LineStage;
}

/** Rules ready to run, in order. Build once per run; reuse across streams. */
export interface CompiledRedactionRules {
  readonly rules: readonly CompiledRule[];
}

export const DEFAULT_REPLACEMENT = '[REDACTED]';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One pass of literal strings (longest first), each line of a multi-line literal on its own. */
function literalRule(name: string, literals: string[], replacement: string): CompiledRule {
  const parts = [
    ...new Set(literals.flatMap((l) => l.split(/\r?\n/)).filter((l) => l !== '')),
  ].sort((a, b) => b.length - a.length);
  if (parts.length === 0) {
    const none = { reach: 0, lookBehind: 0, over: () => () => undefined };
    return {
      name,
      type: 'literal',
      apply: (text) => ({ text, count: 0 }),
      stage: () => new ScanStage(none),
    };
  }
  // A literal set reads nothing around a match, and no match is longer than its longest literal.
  const scanner = regexScanner(
    new RegExp(parts.map(escapeRegExp).join('|'), 'g'),
    parts[0]!.length,
    () => replacement,
    0,
  );
  return {
    name,
    type: 'literal',
    apply(text) {
      const r = runScan(scanner, text, 0, 0, Number.POSITIVE_INFINITY);
      return { text: r.text, count: r.count };
    },
    stage: () => new ScanStage(scanner),
  };
}

/** A pack-authored RE2 rule; `^` and `$` mean line start and end, since rules apply within lines. */
function regexRule(name: string, pattern: string, replacement: string): CompiledRule {
  const re = RE2JS.compile(pattern, RE2JS.MULTILINE);
  const expand = goExpander(replacement, re.namedGroups());
  return {
    name,
    type: 'regex',
    apply(text) {
      if (!re.test(text)) return { text, count: 0 };
      const r = packRegexPass(re, expand, text, 0, text.length);
      return { text: r.text, count: r.count };
    },
    stage: () => new PackRegexStage(re, expand),
  };
}

/** Go regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group expands to nothing. */
function goExpander(
  template: string,
  names: Record<string, number>,
): (groups: (string | null)[]) => string {
  const pieces: (string | number)[] = [];
  const re = /\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
  let last = 0;
  for (const m of template.matchAll(re)) {
    pieces.push(template.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[0] === '$$') {
      pieces.push('$');
      continue;
    }
    const ref = (m[1] ?? m[2])!;
    pieces.push(/^[0-9]+$/.test(ref) ? Number(ref) : (names[ref] ?? -1));
  }
  pieces.push(template.slice(last));
  return (groups) => pieces.map((p) => (typeof p === 'string' ? p : (groups[p] ?? ''))).join('');
}

/**
 * Compiles rules in the order given (sensitive values, the action's rules,
 * built-ins, global rules). Adjacent literal rules with one name form one
 * literal set, longest first. A later rule whose name an earlier, separate
 * rule already holds is dropped (a global rule clashing with an action rule
 * or a built-in); built-ins are never dropped.
 */
export function compileRedactionRules(
  rules: readonly RedactionRuleInput[],
): CompiledRedactionRules {
  const compiled: CompiledRule[] = [];
  const taken = new Set<string>();
  const names = new Set(rules.map((r) => r.name));
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    // Built-ins always run: no other rule can take their place by borrowing a name.
    if (rule.type !== 'builtin' && taken.has(rule.name)) continue;
    taken.add(rule.name);
    if (rule.type === 'builtin') {
      if (rule.coveredBy === undefined || !names.has(rule.coveredBy)) compiled.push(rule);
    } else if (rule.type === 'regex') {
      compiled.push(
        regexRule(rule.name, rule.pattern ?? '', rule.replacement ?? DEFAULT_REPLACEMENT),
      );
    } else {
      const literals = [rule.literal ?? ''];
      while (rules[i + 1]?.type === 'literal' && rules[i + 1]!.name === rule.name) {
        literals.push((rules[++i] as RedactionRuleSpec).literal ?? '');
      }
      compiled.push(literalRule(rule.name, literals, rule.replacement ?? DEFAULT_REPLACEMENT));
    }
  }
  return { rules: compiled };
}

/** The literal set for sensitive argument values, ready to go first in the rule list. */
export function sensitiveValueRules(values: string[], name = 'sensitive-arg'): RedactionRuleSpec[] {
  return values.map((literal) => ({
    name,
    type: 'literal',
    literal,
    replacement: DEFAULT_REPLACEMENT,
  }));
}
