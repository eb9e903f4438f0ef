/**
 * Exact decimal values of JSON number literals, without going through float64.
 * A Decimal is sign × digits × 10^exponent with `digits` free of leading and
 * trailing zeros ('' is zero, which is never negative).
 */
export interface Decimal {
  readonly negative: boolean;
  readonly digits: string;
  readonly exponent: bigint;
}

/** RFC 8259 number grammar. */
export const JSON_NUMBER_PATTERN = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

const DECIMAL_PARTS = /^(-)?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

/** Parses a JSON number literal, or ES Number-to-String output such as `1e+21`. */
export function parseDecimal(literal: string): Decimal {
  const parts = DECIMAL_PARTS.exec(literal);
  if (parts === null) throw new TypeError('not a decimal literal');
  const fraction = parts[3] ?? '';
  const all = (parts[2] ?? '') + fraction;
  const leading = /^0*/.exec(all)![0].length;
  if (leading === all.length) return { negative: false, digits: '', exponent: 0n };
  const trailing = /0*$/.exec(all)![0].length;
  return {
    negative: parts[1] === '-',
    digits: all.slice(leading, all.length - trailing),
    exponent: BigInt(parts[4] ?? '0') - BigInt(fraction.length) + BigInt(trailing),
  };
}

export function decimalEquals(a: Decimal, b: Decimal): boolean {
  return a.negative === b.negative && a.digits === b.digits && a.exponent === b.exponent;
}

export function isIntegral(d: Decimal): boolean {
  return d.digits === '' || d.exponent >= 0n;
}

// toBigInt must not let `1e999999999` allocate gigabytes.
const MAX_BIGINT_DIGITS = 10_000n;

export function decimalToBigInt(d: Decimal): bigint {
  if (!isIntegral(d)) throw new RangeError('not an integer');
  if (d.digits === '') return 0n;
  if (BigInt(d.digits.length) + d.exponent > MAX_BIGINT_DIGITS) {
    throw new RangeError(`integer has more than ${MAX_BIGINT_DIGITS} digits`);
  }
  const magnitude = BigInt(d.digits) * 10n ** d.exponent;
  return d.negative ? -magnitude : magnitude;
}

/**
 * Writes the exact value in the layout of ES Number::toString (plain digits up
 * to 21 integer digits, `0.000001` down to 1e-6, exponent form otherwise), so a
 * value a float64 holds exactly is written exactly as JCS writes that float.
 */
export function formatDecimal(d: Decimal): string {
  if (d.digits === '') return '0';
  const s = d.digits;
  const k = BigInt(s.length);
  const n = d.exponent + k;
  let body: string;
  if (k <= n && n <= 21n) body = s + '0'.repeat(Number(n - k));
  else if (0n < n && n <= 21n) body = `${s.slice(0, Number(n))}.${s.slice(Number(n))}`;
  else if (-6n < n && n <= 0n) body = `0.${'0'.repeat(Number(-n))}${s}`;
  else {
    const e = n - 1n;
    const mantissa = s.length === 1 ? s : `${s[0]}.${s.slice(1)}`;
    body = `${mantissa}e${e < 0n ? '-' : '+'}${e < 0n ? -e : e}`;
  }
  return d.negative ? `-${body}` : body;
}
