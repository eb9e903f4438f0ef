export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts text to at most maxBytes of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = utf8Bytes(ch);
    if (used + size > maxBytes - 3) break;
    out += ch;
    used += size;
  }
  return `${out}...`;
}

// C0/C1 controls (whitespace is collapsed before this check) and the bidi overrides/marks.
const FORBIDDEN_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Model-visible text: whitespace runs collapsed to one space and trimmed.
 * Returns the reason when the text carries characters a model must not see.
 */
export function collapseModelText(text: string): { text: string } | { error: string } {
  const collapsed = text.replace(/\s+/gu, ' ').trim();
  if (LONE_SURROGATE.test(collapsed)) return { error: 'is not valid UTF-8' };
  const bad = FORBIDDEN_TEXT.exec(collapsed);
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return { error: `contains the forbidden character U+${code}` };
  }
  return { text: collapsed };
}

/** The first sentence of a description: up to the first `.`, `!` or `?` that ends a word. */
export function firstSentence(text: string): string {
  const end = /[.!?](?=\s|$)/u.exec(text);
  return end === null ? text : text.slice(0, end.index + 1);
}
