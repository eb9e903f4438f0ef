const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * An RFC 3339 date-time (at most microseconds), or an ISO-8601 calendar date
 * meaning its UTC midnight, in the form the storage layer returns
 * (`2026-01-02T03:04:05.000006Z`); undefined when the text is not one.
 * The audit chain hashes this exact text, so it must equal what the database
 * gives back for the same instant.
 */
export function normalizeTimestamp(text: string): string | undefined {
  const dateOnly = DATE_ONLY.exec(text);
  const match = dateOnly ?? RFC3339.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', sign, oh = '00', om = '00'] =
    dateOnly ? [...dateOnly] : match;
  const fields = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [year, month, day, hour, minute, second] = fields;
  if (year < 1000 || Number(oh) > 23 || Number(om) > 59) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return undefined; // 2026-02-30, 24:00:00, leap seconds
  }
  const offsetMs = sign ? (sign === '+' ? 1 : -1) * (Number(oh) * 60 + Number(om)) * 60_000 : 0;
  const utc = new Date(local - offsetMs);
  if (utc.getUTCFullYear() > 9999 || utc.getUTCFullYear() < 1000) return undefined;
  return `${utc.toISOString().slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
}
