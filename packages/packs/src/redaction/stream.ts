import { PRIVATE_KEY_BEGIN, PRIVATE_KEY_END, PRIVATE_KEY_MARKER_BOUND } from './builtin.js';
import { LINE_HOLD, LineRedactor, stagedHoldBack } from './lines.js';
import {
  type CompiledRedactionRules,
  type CompiledRule,
  compileRedactionRules,
  type RedactionRuleInput,
} from './rules.js';

const PRIVATE_KEY_MASK = '[REDACTED_PRIVATE_KEY]';

export interface RedactionHit {
  name: string;
  type: string;
  count: number;
}

export interface StreamRedactor {
  /** Feeds the next chunk; returns the redacted output that is now final. */
  push(chunk: string): string;
  /** Ends the stream and returns the rest. */
  end(): string;
  /** Per-rule hit counts so far, in rule order (rules with no hits are left out). */
  hits(): RedactionHit[];
}

function asCompiled(
  rules: CompiledRedactionRules | readonly RedactionRuleInput[],
): CompiledRedactionRules {
  return 'rules' in rules ? rules : compileRedactionRules(rules as readonly RedactionRuleInput[]);
}

/** Hit counts, listed in rule order whatever order the hits came in. */
class HitCounts {
  private readonly counts = new Map<string, RedactionHit>();
  private readonly order: string[] = [];

  constructor(rules: readonly CompiledRule[]) {
    for (const rule of rules) {
      this.order.push(rule.name);
      if (rule.alsoName !== undefined) this.order.push(rule.alsoName);
    }
  }

  add(name: string, type: string, count: number): void {
    if (count === 0) return;
    const known = this.counts.get(name);
    if (known) known.count += count;
    else this.counts.set(name, { name, type, count });
    if (!this.order.includes(name)) this.order.push(name);
  }

  list(): RedactionHit[] {
    const hits: RedactionHit[] = [];
    for (const name of new Set(this.order)) {
      const hit = this.counts.get(name);
      if (hit !== undefined) hits.push({ ...hit });
    }
    return hits;
  }
}

/**
 * A streaming redactor whose concatenated output always equals redactText of
 * the whole stream, however the stream is cut into chunks. Private-key blocks
 * are masked from BEGIN through END, or to the end of the stream, whatever
 * their size; the rules apply to the text between them, line by line.
 *
 * Memory: at most PRIVATE_KEY_MARKER_BOUND characters wait to be checked for a
 * key marker; an unfinished line is held whole up to LINE_HOLD characters, and
 * a longer line streams, holding back at most streamHoldBack(rules) characters.
 */
export function createStreamRedactor(
  rules: CompiledRedactionRules | readonly RedactionRuleInput[],
): StreamRedactor {
  const compiled = asCompiled(rules).rules;
  const counts = new HitCounts(compiled);
  const lines = new LineRedactor(compiled, (rule, result) => {
    counts.add(rule.name, rule.type, result.count);
    if (result.also !== undefined) counts.add(result.also.name, rule.type, result.also.count);
  });
  let pending = '';
  let inKey = false;
  // A high surrogate that ended the last output waits for its other half.
  let carry = '';
  let ended = false;

  const drain = (last: boolean): string => {
    let out = '';
    for (;;) {
      if (inKey) {
        PRIVATE_KEY_END.lastIndex = 0;
        const end = PRIVATE_KEY_END.exec(pending);
        if (end === null) {
          pending = pending.slice(undecided(pending, '-----END ', last));
          return out;
        }
        pending = pending.slice(end.index + end[0].length);
        inKey = false;
        continue;
      }
      PRIVATE_KEY_BEGIN.lastIndex = 0;
      const begin = PRIVATE_KEY_BEGIN.exec(pending);
      if (begin === null) {
        const cut = undecided(pending, '-----BEGIN ', last);
        out += lines.write(pending.slice(0, cut));
        pending = pending.slice(cut);
        return last ? out + lines.close() : out;
      }
      out += lines.write(pending.slice(0, begin.index)) + lines.close() + PRIVATE_KEY_MASK;
      const type = begin[1]?.startsWith('PGP ') ? 'pgp-private-key-block' : 'private-key-block';
      counts.add(type, 'builtin', 1);
      pending = pending.slice(begin.index + begin[0].length);
      inKey = true;
    }
  };

  const settle = (out: string): string => {
    out = carry + out;
    const code = out.charCodeAt(out.length - 1);
    carry = !ended && code >= 0xd800 && code <= 0xdbff ? out.slice(-1) : '';
    return carry === '' ? out : out.slice(0, -1);
  };

  return {
    push(chunk) {
      if (ended) throw new Error('push after end');
      if (chunk === '') return '';
      pending += chunk;
      return settle(drain(false));
    },
    end() {
      if (ended) return '';
      ended = true;
      return settle(drain(true));
    },
    hits: () => counts.list(),
  };
}

/**
 * Where text that might still begin a key marker (`-----BEGIN ` or `-----END `
 * and a bounded rest, never across a newline) starts, or text.length.
 */
function undecided(text: string, literal: string, last: boolean): number {
  if (last) return text.length;
  const from = Math.max(text.lastIndexOf('\n') + 1, text.length - PRIVATE_KEY_MARKER_BOUND + 1, 0);
  for (let at = text.indexOf('-', from); at !== -1; at = text.indexOf('-', at + 1)) {
    if (text.startsWith(literal.slice(0, text.length - at), at)) return at;
  }
  return text.length;
}

/** Whole-buffer redaction: exactly what a stream of the same text produces. */
export function redactText(
  text: string,
  rules: CompiledRedactionRules | readonly RedactionRuleInput[],
): { text: string; hits: RedactionHit[] } {
  const redactor = createStreamRedactor(rules);
  const out = redactor.push(text) + redactor.end();
  return { text: out, hits: redactor.hits() };
}

/**
 * The most a stream redactor holds back of one line: the whole line up to
 * LINE_HOLD, then what the staged rules hold (the longest reach of each rule
 * in turn, since each rule reads the one before's output).
 */
export function streamHoldBack(rules: CompiledRedactionRules | readonly RedactionRuleInput[]) {
  return Math.max(LINE_HOLD, stagedHoldBack(asCompiled(rules).rules));
}
