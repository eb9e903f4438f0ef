const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
// Only YAML-authored fields (timeouts, bounds) may use days and weeks.
const AUTHORED_UNIT_NS: Record<string, bigint> = {
  ...UNIT_NS,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};
const MAX_DURATION_NS = 2n ** 63n - 1n;
const SEGMENT = /([0-9]*)(?:\.([0-9]*))?([a-zµμ]+)/y;

/**
 * Parses Go duration syntax (`300ms`, `1h30m`, `1.5s`, `0`) to nanoseconds,
 * non-negative only. `authored` also accepts `d` and `w`. Returns undefined
 * when the text is not a duration or overflows int64 nanoseconds.
 */
export function parseDuration(text: string, authored = false): bigint | undefined {
  const units = authored ? AUTHORED_UNIT_NS : UNIT_NS;
  const body = text.startsWith('+') ? text.slice(1) : text;
  if (body === '0') return 0n;
  if (body === '') return undefined;
  let total = 0n;
  let pos = 0;
  while (pos < body.length) {
    SEGMENT.lastIndex = pos;
    const m = SEGMENT.exec(body);
    if (m === null) return undefined;
    const [whole, int = '', frac, unit = ''] = m;
    const scale = units[unit];
    if (scale === undefined || (int === '' && (frac === undefined || frac === '')))
      return undefined;
    total += BigInt(int || '0') * scale;
    if (frac !== undefined && frac !== '') {
      total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    }
    if (total > MAX_DURATION_NS) return undefined;
    pos += whole.length;
  }
  return total;
}

function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const rest = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return rest === '' ? whole.toString() : `${whole}.${rest}`;
}

/** Go's time.Duration.String for a non-negative duration: `5m0s`, `1h30m0s`, `1.5s`, `250ms`. */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${fraction(ns, 3)}µs`;
  if (ns < 1_000_000_000n) return `${fraction(ns, 6)}ms`;
  const hours = ns / UNIT_NS.h!;
  const minutes = (ns % UNIT_NS.h!) / UNIT_NS.m!;
  const seconds = fraction(ns % UNIT_NS.m!, 9);
  if (hours > 0n) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
