import { PRIVATE_KEY_BEGIN, PRIVATE_KEY_END } from './builtin.js';
import {
  type CompiledRedactionRules,
  compileRedactionRules,
  type RedactionRuleInput,
} from './rules.js';

/**
 * Output is cut into segments: each line with its newline, and a line longer
 * than this is cut into pieces of this many UTF-16 units (one less when that
 * would split a surrogate pair). Rules never see across a segment boundary, so
 * every match is bounded by this and the result does not depend on chunking.
 */
export const LINE_BOUND = 32 * 1024;
/** The built-in rules' longest bound (JWT); the hold-back is at least this. */
export const MAX_RULE_BOUND = 16 * 1024;
/** Process complete lines in batches of about this size. */
const BATCH = 1 << 20;
const PRIVATE_KEY_MASK = '[REDACTED_PRIVATE_KEY]';

export interface RedactionHit {
  name: string;
  type: string;
  count: number;
}

export interface StreamRedactor {
  /** Feeds the next chunk; returns the redacted output that is now final (cut at segment ends). */
  push(chunk: string): string;
  /** Ends the stream and returns the rest. */
  end(): string;
  /** Per-rule hit counts so far (rules with no hits are left out). */
  hits(): RedactionHit[];
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** End of the piece starting at `start` in a line too long to keep whole. */
function pieceEnd(text: string, start: number): number {
  const end = start + LINE_BOUND;
  return isHighSurrogate(text.charCodeAt(end - 1)) ? end - 1 : end;
}

function asCompiled(
  rules: CompiledRedactionRules | readonly RedactionRuleInput[],
): CompiledRedactionRules {
  return 'rules' in rules ? rules : compileRedactionRules(rules as readonly RedactionRuleInput[]);
}

/**
 * A streaming redactor whose concatenated output always equals redactText of
 * the whole stream. It emits only whole segments and holds back the current
 * line (up to LINE_BOUND ≥ MAX_RULE_BOUND). Private-key blocks are masked from
 * BEGIN through END, or to the end of the stream, whatever their size.
 */
export function createStreamRedactor(
  rules: CompiledRedactionRules | readonly RedactionRuleInput[],
): StreamRedactor {
  const { rules: compiled } = asCompiled(rules);
  const counts = new Map<string, RedactionHit>();
  let pending = '';
  let inKey = false;
  let ended = false;

  const hit = (name: string, type: string, count: number) => {
    if (count === 0) return;
    const known = counts.get(name);
    if (known) known.count += count;
    else counts.set(name, { name, type, count });
  };

  const applyRules = (text: string): string => {
    let out = text;
    for (const rule of compiled) {
      const result = rule.apply(out);
      hit(rule.name, rule.type, result.count);
      if (result.also !== undefined) hit(result.also.name, rule.type, result.also.count);
      out = result.text;
    }
    return out;
  };

  /** Redacts one unit: text that is never cut inside a segment and has no cut inside it. */
  const redactUnit = (unit: string): string => {
    let out = '';
    let pos = 0;
    while (pos < unit.length) {
      if (inKey) {
        PRIVATE_KEY_END.lastIndex = pos;
        const end = PRIVATE_KEY_END.exec(unit);
        if (end === null) return out;
        inKey = false;
        pos = end.index + end[0].length;
        continue;
      }
      PRIVATE_KEY_BEGIN.lastIndex = pos;
      const begin = PRIVATE_KEY_BEGIN.exec(unit);
      if (begin === null) return out + applyRules(unit.slice(pos));
      out += applyRules(unit.slice(pos, begin.index)) + PRIVATE_KEY_MASK;
      hit(
        begin[1]?.startsWith('PGP ') ? 'pgp-private-key-block' : 'private-key-block',
        'builtin',
        1,
      );
      inKey = true;
      pos = begin.index + begin[0].length;
    }
    return out;
  };

  /**
   * Redacts text made of whole segments. Units end at newlines (batched up to
   * BATCH) and at the cuts inside over-long lines.
   */
  const redactSegments = (text: string): string => {
    let out = '';
    let unitStart = 0;
    let lineStart = 0;
    while (lineStart < text.length) {
      const nl = text.indexOf('\n', lineStart);
      const lineEnd = nl === -1 ? text.length : nl + 1;
      if (lineEnd - lineStart > LINE_BOUND) {
        // Each piece of an over-long line is its own unit.
        if (lineStart > unitStart) out += redactUnit(text.slice(unitStart, lineStart));
        let start = lineStart;
        while (lineEnd - start > LINE_BOUND) {
          const end = pieceEnd(text, start);
          out += redactUnit(text.slice(start, end));
          start = end;
        }
        unitStart = start;
      } else if (lineEnd - unitStart >= BATCH) {
        out += redactUnit(text.slice(unitStart, lineEnd));
        unitStart = lineEnd;
      }
      lineStart = lineEnd;
    }
    if (unitStart < text.length) out += redactUnit(text.slice(unitStart));
    return out;
  };

  return {
    push(chunk) {
      if (ended) throw new Error('push after end');
      if (chunk === '') return '';
      const newline = chunk.lastIndexOf('\n');
      let ready = newline === -1 ? 0 : pending.length + newline + 1;
      pending += chunk;
      // Cut whole pieces off a tail line that has outgrown the bound.
      while (pending.length - ready >= LINE_BOUND) ready = pieceEnd(pending, ready);
      if (ready === 0) return '';
      const out = redactSegments(pending.slice(0, ready));
      pending = pending.slice(ready);
      return out;
    },
    end() {
      if (ended) return '';
      ended = true;
      const out = redactSegments(pending);
      pending = '';
      return out;
    },
    hits() {
      return [...counts.values()].map((h) => ({ ...h }));
    },
  };
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
