import type { RE2JS } from 're2js';
import type { LineStage, PassResult } from './scan.js';

/**
 * A pack rule's match length cannot be bounded in general (`[^,]*`), so on a
 * line too long to hold whole a pack regex runs in windows of WINDOW
 * characters that the text alone determines: a match must start within the
 * first WINDOW - PACK_MATCH_BOUND characters of a window, so it is cut at no
 * less than PACK_MATCH_BOUND characters, and every match up to that length is
 * found wherever it lies.
 */
export const PACK_MATCH_BOUND = 4096;
const WINDOW = 2 * PACK_MATCH_BOUND;

export type Expand = (groups: (string | null)[]) => string;

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Whether text[0, at) would end between the halves of a surrogate pair. */
export function splitsPair(text: string, at: number): boolean {
  return at > 0 && isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at));
}

/**
 * Replaces the matches in text[from…] that start before acceptBefore (as
 * RE2JS replaceAll would: an empty match moves on one character). Returns the
 * output for text[from, end).
 */
export function packRegexPass(
  re: RE2JS,
  expand: Expand,
  text: string,
  from: number,
  acceptBefore: number,
): PassResult & { end: number } {
  const matcher = re.matcher(text);
  const groupCount = re.groupCount();
  let out = '';
  let copied = from;
  let count = 0;
  for (let p = from; p <= text.length && matcher.find(p); ) {
    const start = matcher.start();
    const end = matcher.end();
    if (start >= acceptBefore) break;
    const groups: (string | null)[] = [];
    for (let g = 0; g <= groupCount; g++) groups.push(matcher.group(g));
    out += text.slice(copied, start) + expand(groups);
    copied = end;
    count++;
    p = end > start ? end : end + (splitsPair(text, end + 1) ? 2 : 1);
  }
  let end = Math.min(text.length, Math.max(copied, acceptBefore));
  if (end > copied && splitsPair(text, end)) end--;
  return { text: out + text.slice(copied, end), count, end };
}

/** A pack regex over one long line, window by window. */
export class PackRegexStage implements LineStage {
  /** The character before `pos` (context for `^` and `\b`) and what follows. */
  private buf = '';
  private pos = 0;
  readonly bound = WINDOW + 1;

  constructor(
    private readonly re: RE2JS,
    private readonly expand: Expand,
  ) {}

  write(text: string, last: boolean): PassResult {
    this.buf += text;
    let out = '';
    let count = 0;
    let newline = this.buf.indexOf('\n', this.pos);
    while (this.pos < this.buf.length) {
      const lineEnd = newline !== -1 ? newline + 1 : last ? this.buf.length : -1;
      let r: PassResult & { end: number };
      if (lineEnd !== -1 && lineEnd - this.pos <= WINDOW) {
        // The rest of the line fits in one window: every match in it counts.
        r = this.pass(lineEnd, lineEnd);
      } else if (this.buf.length - this.pos >= WINDOW) {
        r = this.pass(this.pos + WINDOW, this.pos + WINDOW - PACK_MATCH_BOUND);
      } else break;
      out += r.text;
      count += r.count;
      this.pos = r.end;
      if (newline !== -1 && newline < this.pos) newline = this.buf.indexOf('\n', this.pos);
    }
    const keep = last ? this.buf.length : Math.max(0, this.pos - 1);
    this.buf = this.buf.slice(keep);
    this.pos -= keep;
    return { text: out, count };
  }

  private pass(to: number, acceptBefore: number): PassResult & { end: number } {
    const from = this.pos;
    const context = from > 0 ? 1 : 0;
    const window = this.buf.slice(from - context, to);
    const r = packRegexPass(this.re, this.expand, window, context, acceptBefore - from + context);
    return { text: r.text, count: r.count, end: from - context + r.end };
  }
}
