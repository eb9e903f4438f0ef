/**
 * Rules for text that people and programs send: names, ids, query values,
 * reasons. Shared by the control plane and the runner so both ends judge the
 * same text the same way.
 */

/**
 * `line`: a name, id or parameter (no control characters at all).
 * `multiline`: free text, where tab, line feed and carriage return are allowed.
 */
export type TextShape = 'line' | 'multiline';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The first code point the text may not carry, or undefined: C0 controls (tab
 * and line breaks allowed in multiline text), DEL and the C1 controls, lone
 * surrogates (not text at all) and noncharacters (U+FDD0–U+FDEF and the last
 * two code points of every plane). NUL is among them: PostgreSQL refuses it.
 */
export function forbiddenCodePoint(text: string, shape: TextShape = 'line'): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x20) {
      if (shape === 'multiline' && (unit === TAB || unit === LF || unit === CR)) continue;
      return unit;
    }
    if (unit < 0x7f) continue;
    if (unit <= 0x9f) return unit;
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (unit > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return unit;
      const codePoint = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
      if (isNoncharacter(codePoint)) return codePoint;
      i++;
      continue;
    }
    if (isNoncharacter(unit)) return unit;
  }
  return undefined;
}

/** The text with every forbidden code point replaced by U+FFFD, for informational values. */
export function replaceForbidden(text: string, shape: TextShape = 'line'): string {
  if (forbiddenCodePoint(text, shape) === undefined) return text;
  let out = '';
  for (const char of text) out += forbiddenCodePoint(char, shape) === undefined ? char : '\ufffd';
  return out;
}

function isNoncharacter(codePoint: number): boolean {
  return (codePoint >= 0xfdd0 && codePoint <= 0xfdef) || (codePoint & 0xfffe) === 0xfffe;
}

/** `U+0000`: how messages name a code point (never the text around it). */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The bidi embeddings, overrides and isolates that can make text read other than it is stored. */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;

export function bidiControlIn(text: string): number | undefined {
  return BIDI_CONTROL.exec(text)?.[0].codePointAt(0);
}

// Letters, digits, punctuation, symbols and spacing marks draw something; the default-ignorable
// code points (zero-width spaces and joiners, bidi marks, fillers…) and the blank braille cell do not.
const DRAWN = /[\p{L}\p{N}\p{P}\p{S}\p{Mc}]/u;
const BLANK = /[\p{Default_Ignorable_Code_Point}\u2800]/u;

/** How many code points of the text are visible (whitespace, format and combining marks do not count). */
export function visibleLength(text: string): number {
  let count = 0;
  for (const char of text) if (DRAWN.test(char) && !BLANK.test(char)) count++;
  return count;
}

/** Characters as PostgreSQL counts them (code points). */
export const textLength = (text: string): number => [...text].length;

/** A run's reason when it is dispatched: why this action, on this host, now. */
export const REASON_MIN_VISIBLE = 12;
export const REASON_MAX_LENGTH = 2000;

/**
 * Why the text cannot be a run's reason, or undefined when it can: at least
 * `minVisible` visible characters, at most REASON_MAX_LENGTH characters, no
 * forbidden code point and no bidi control. The control plane and a local
 * `emisar action run` ask for REASON_MIN_VISIBLE; the runner's check of a
 * dispatched run asks only for a visible character.
 */
export function reasonProblem(
  text: string,
  minVisible: number = REASON_MIN_VISIBLE,
): string | undefined {
  const problem = approverTextProblem(text);
  if (problem) return problem;
  if (textLength(text) > REASON_MAX_LENGTH) {
    return `is longer than ${REASON_MAX_LENGTH} characters`;
  }
  if (visibleLength(text) < minVisible) {
    return minVisible === 1
      ? 'has no visible character'
      : `needs at least ${minVisible} visible characters`;
  }
  return undefined;
}

/** What to do about a reason `reasonProblem` refused, in the words both ends use. */
export function reasonRuleMessage(problem: string): string {
  return `Give a reason (why this action, on this host, now) of at least ${REASON_MIN_VISIBLE} visible characters; this one ${problem}.`;
}

/**
 * Why free text shown to approvers (a reason, evidence, the expected outcome)
 * is refused, or undefined: a forbidden code point or a bidi control.
 */
export function approverTextProblem(text: string): string | undefined {
  const forbidden = forbiddenCodePoint(text, 'multiline');
  if (forbidden !== undefined) {
    return `contains the forbidden character ${codePointLabel(forbidden)}`;
  }
  const bidi = bidiControlIn(text);
  if (bidi !== undefined) {
    return `contains the bidi control ${codePointLabel(bidi)}, which can make text read other than it is stored`;
  }
  return undefined;
}
