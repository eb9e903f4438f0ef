import {
  type ActionDefinition,
  type ArgValues,
  BUILTIN_REDACTION_RULES,
  type CompiledRedactionRules,
  compileRedactionRules,
  createStreamRedactor,
  type RedactionHit,
  type RedactionRuleSpec,
  redactText,
  type StreamRedactor,
  sensitiveValueRules,
} from '@emisar/packs';
import type { JsonObject, JsonValue } from '@emisar/protocol';

const MASK = '[REDACTED]';

/**
 * The redaction of one run, in the packs spec's order: sensitive argument values
 * (one literal set, longest first), the action's rules, the built-in rules, then
 * the runner's global rules (compileRedactionRules drops a later rule whose name
 * is taken). Output hits are summed over both streams.
 */
export class RedactionSet {
  private readonly rules: CompiledRedactionRules;
  private readonly outputRedactors: StreamRedactor[] = [];
  private readonly sensitive: Set<string>;

  constructor(
    action: ActionDefinition,
    values: ArgValues,
    globalRules: readonly RedactionRuleSpec[],
  ) {
    this.sensitive = new Set(action.args.filter((arg) => arg.sensitive).map((arg) => arg.name));
    this.rules = compileRedactionRules([
      ...sensitiveValueRules(sensitiveLiterals(values, this.sensitive)),
      ...action.output.redact,
      ...BUILTIN_REDACTION_RULES,
      ...globalRules,
    ]);
  }

  /** A fresh stateful redactor for one output stream (its hits count in the result). */
  streamRedactor(): StreamRedactor {
    const redactor = createStreamRedactor(this.rules);
    this.outputRedactors.push(redactor);
    return redactor;
  }

  /** Whole-text redaction for argv, the executed command, stored args and error text. */
  text(value: string): string {
    return redactText(value, this.rules).text;
  }

  /** Args for the journal: sensitive ones masked, every string redacted. */
  maskArgs(args: JsonObject): JsonObject {
    const out: JsonObject = {};
    for (const [name, value] of Object.entries(args)) {
      out[name] = this.sensitive.has(name) ? MASK : this.maskValue(value);
    }
    return out;
  }

  hits(): RedactionHit[] {
    const totals = new Map<string, RedactionHit>();
    for (const redactor of this.outputRedactors) {
      for (const hit of redactor.hits()) {
        const seen = totals.get(hit.name);
        if (seen) seen.count += hit.count;
        else totals.set(hit.name, { ...hit });
      }
    }
    return [...totals.values()];
  }

  private maskValue(value: JsonValue): JsonValue {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.maskValue(item));
    return value;
  }
}

function sensitiveLiterals(values: ArgValues, sensitive: Set<string>): string[] {
  const literals = new Set<string>();
  for (const [name, value] of Object.entries(values)) {
    if (!sensitive.has(name)) continue;
    const items: unknown[] = Array.isArray(value.value) ? value.value : [value.value];
    for (const item of items) {
      const text = String(item);
      if (text) literals.add(text);
    }
  }
  return [...literals];
}
