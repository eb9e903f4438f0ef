import type { CompiledRule } from './rules.js';
import type { LineStage, PassResult } from './scan.js';

/** An unfinished line up to this many characters is held whole; a longer one streams. */
export const LINE_HOLD = 32 * 1024;
/** A streaming line gathers at least this much before the rules run over it. */
export const STREAM_STEP = 16 * 1024;
/** Whole lines are redacted in batches of about this size. */
const BATCH = 1 << 20;

export type CountHits = (rule: CompiledRule, result: PassResult) => void;

/**
 * The rules over plain text (no private-key blocks) that arrives in pieces
 * and ends at `close`. A line of at most LINE_HOLD characters is redacted
 * whole; a longer one goes through a chain of per-rule stages, each holding
 * back only what its next decision may still read.
 */
export class LineRedactor {
  private tail = '';
  private long: StagedLine | undefined;

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly count: CountHits,
  ) {}

  write(text: string): string {
    let out = '';
    if (this.long !== undefined) {
      const newline = text.indexOf('\n');
      if (newline === -1) return this.long.write(text, false);
      out = this.long.write(text.slice(0, newline + 1), true);
      this.long = undefined;
      text = text.slice(newline + 1);
    }
    const last = text.lastIndexOf('\n');
    if (last === -1) {
      this.tail += text;
    } else {
      out += this.wholeLines(this.tail + text.slice(0, last + 1));
      this.tail = text.slice(last + 1);
    }
    if (this.tail.length > LINE_HOLD) {
      this.long = new StagedLine(this.rules, this.count);
      out += this.long.write(this.tail, false);
      this.tail = '';
    }
    return out;
  }

  close(): string {
    if (this.long !== undefined) {
      const out = this.long.write('', true);
      this.long = undefined;
      return out;
    }
    const out = this.wholeLines(this.tail);
    this.tail = '';
    return out;
  }

  /** Redacts whole lines (the last may lack its newline): short ones in batches, long ones staged. */
  private wholeLines(text: string): string {
    let out = '';
    let batchStart = 0;
    let lineStart = 0;
    while (lineStart < text.length) {
      const newline = text.indexOf('\n', lineStart);
      const lineEnd = newline === -1 ? text.length : newline + 1;
      if ((newline === -1 ? text.length : newline) - lineStart > LINE_HOLD) {
        out += this.batch(text.slice(batchStart, lineStart));
        out += new StagedLine(this.rules, this.count).write(text.slice(lineStart, lineEnd), true);
        batchStart = lineEnd;
      } else if (lineEnd - batchStart >= BATCH) {
        out += this.batch(text.slice(batchStart, lineEnd));
        batchStart = lineEnd;
      }
      lineStart = lineEnd;
    }
    return out + this.batch(text.slice(batchStart));
  }

  private batch(text: string): string {
    if (text === '') return '';
    for (const rule of this.rules) {
      const result = rule.apply(text);
      this.count(rule, result);
      text = result.text;
    }
    return text;
  }
}

/** One long line through every rule's stage in turn. */
class StagedLine {
  private readonly stages: LineStage[];
  private pending = '';

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly count: CountHits,
  ) {
    this.stages = rules.map((rule) => rule.stage());
  }

  write(text: string, last: boolean): string {
    this.pending += text;
    if (!last && this.pending.length < STREAM_STEP) return '';
    let flow = this.pending;
    this.pending = '';
    for (let i = 0; i < this.stages.length; i++) {
      const result = this.stages[i]!.write(flow, last);
      this.count(this.rules[i]!, result);
      flow = result.text;
    }
    return flow;
  }
}

/** The most a staged line holds back: what gathers before a step, plus every stage's bound. */
export function stagedHoldBack(rules: readonly CompiledRule[]): number {
  return rules.reduce((sum, rule) => sum + rule.stage().bound, STREAM_STEP);
}
