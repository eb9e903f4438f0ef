/**
 * Rules as scanners: a rule finds its decisions one at a time, and one driver
 * applies them to a whole text or to a line that streams in.
 *
 * Every decision reads a bounded neighbourhood of its anchor, so a stream can
 * take a decision as soon as `reach` characters past the anchor have arrived,
 * and the result equals one pass over the whole line wherever it was cut.
 */

/** What a rule decided at one place in the text. */
export interface Decision {
  /** Where the scan found it: the decision read only text[anchor - lookBehind, anchor + reach). */
  anchor: number;
  /** The span replaced, or passed over unchanged when `text` is undefined. start ≥ anchor, end > start. */
  start: number;
  end: number;
  text: string | undefined;
  /** Counted for the rule's companion name rather than its own. */
  also?: boolean;
}

/**
 * A rule's search. The first decision at or after `from` depends only on the
 * text and on `floor` (where the rule's last replacement ended), not on where
 * an earlier search started: resuming anywhere no decision is anchored before
 * gives the same decisions.
 */
export type Search = (from: number, floor: number) => Decision | undefined;

export interface Scanner {
  /** Characters from an anchor a decision may read (the match and any look-ahead). */
  readonly reach: number;
  /** Characters before an anchor a decision may read. */
  readonly lookBehind: number;
  /** A search over one text (it may keep memos for that text). */
  over(text: string): Search;
}

/** The result of one rule over some text. */
export interface PassResult {
  text: string;
  count: number;
  /** Hits a combined pass made on behalf of another rule. */
  also?: { name: string; count: number };
}

export interface ScanResult {
  text: string;
  /** text[from, end) is done: later input cannot change it. */
  end: number;
  floor: number;
  count: number;
  also: number;
}

/**
 * Applies the decisions anchored before `limit` to text[from…], and passes on
 * the text up to where the next decision could start.
 */
export function runScan(
  scanner: Scanner,
  text: string,
  from: number,
  floor: number,
  limit: number,
): ScanResult {
  const search = scanner.over(text);
  let out = '';
  let pos = from;
  let copied = from;
  let count = 0;
  let also = 0;
  for (let d = search(pos, floor); d !== undefined && d.anchor < limit; d = search(pos, floor)) {
    if (d.text !== undefined) {
      out += text.slice(copied, d.start) + d.text;
      copied = d.end;
      floor = d.end;
      if (d.also) also++;
      else count++;
    }
    pos = d.end;
  }
  const end = Math.max(pos, Math.min(limit, text.length));
  return { text: out + text.slice(copied, end), end, floor, count, also };
}

/** One rule's pass over one long line as it streams in. */
export interface LineStage {
  /** Takes more of the line (`last`: nothing follows); returns the text now final. */
  write(text: string, last: boolean): PassResult;
  /** Characters this stage may hold back. */
  readonly bound: number;
}

/** A streaming stage whose output equals runScan over the whole line. */
export class ScanStage implements LineStage {
  private buf = '';
  private done = 0;
  private floor = 0;
  readonly bound: number;

  constructor(
    private readonly scanner: Scanner,
    private readonly alsoName?: string,
  ) {
    this.bound = scanner.reach + scanner.lookBehind;
  }

  write(text: string, last: boolean): PassResult {
    this.buf += text;
    const limit = last ? Number.POSITIVE_INFINITY : this.buf.length - this.scanner.reach + 1;
    if (limit <= this.done) return { text: '', count: 0 };
    const r = runScan(this.scanner, this.buf, this.done, this.floor, limit);
    // Keep what later decisions may look back at.
    const keep = last ? r.end : Math.max(0, r.end - this.scanner.lookBehind);
    this.buf = this.buf.slice(keep);
    this.done = r.end - keep;
    this.floor = r.floor - keep;
    return withAlso({ text: r.text, count: r.count }, this.alsoName, r.also);
  }
}

export function withAlso(result: PassResult, alsoName: string | undefined, also: number) {
  if (alsoName !== undefined && also > 0) result.also = { name: alsoName, count: also };
  return result;
}

/** A scanner over a global regex; `decide` may return undefined to keep a match. */
export function regexScanner(
  regex: RegExp,
  reach: number,
  decide: (match: RegExpExecArray) => string | undefined,
  lookBehind = 1,
): Scanner {
  if (!regex.global) throw new Error(`${regex.source}: the regex must be global`);
  return {
    reach,
    lookBehind,
    over(text) {
      return (from) => {
        regex.lastIndex = from;
        const m = regex.exec(text);
        if (m === null) return undefined;
        return { anchor: m.index, start: m.index, end: regex.lastIndex, text: decide(m) };
      };
    },
  };
}
