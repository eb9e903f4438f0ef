/**
 * Both backends return the same JavaScript types for the same SQL types:
 * int8 → number (refusing values a double cannot hold rather than rounding them),
 * timestamps → RFC 3339 UTC strings with microseconds (a JS Date would drop them).
 */
export const PG_TYPE = { INT8: 20, TIMESTAMP: 1114, TIMESTAMPTZ: 1184 } as const;

export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError('int8 value outside the safe integer range');
  }
  return value;
}

const TIMESTAMP_TEXT =
  /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:([+-]\d{2})(?::?(\d{2}))?)?$/;

/** Sessions run with TimeZone=UTC, so the text form carries `+00` or no offset. */
export function parseTimestamp(text: string): string {
  const match = TIMESTAMP_TEXT.exec(text);
  if (!match) return text; // infinity / -infinity pass through unchanged
  const [, date, time, fraction = '', hours, minutes] = match;
  if (hours !== undefined && (hours !== '+00' || (minutes ?? '00') !== '00')) {
    throw new RangeError('timestamp not in UTC; the session time zone must be UTC');
  }
  return `${date}T${time}.${fraction.padEnd(6, '0')}Z`;
}
