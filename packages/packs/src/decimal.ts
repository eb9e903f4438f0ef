import { ExactNumber, type JsonValue } from '@emisar/protocol';

/** sign × digits × 10^exponent, digits without leading or trailing zeros ('' = zero). */
interface Decimal {
  negative: boolean;
  digits: string;
  exponent: bigint;
}

const NUMBER_LITERAL = /^(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

export function isNumberLiteral(text: string): boolean {
  return NUMBER_LITERAL.test(text);
}

function parse(literal: string): Decimal {
  const m = NUMBER_LITERAL.exec(literal);
  if (m === null) throw new TypeError('not a number literal');
  const fraction = m[3] ?? '';
  const all = (m[2] ?? '') + fraction;
  const trimmedStart = all.replace(/^0+/, '');
  if (trimmedStart === '') return { negative: false, digits: '', exponent: 0n };
  const digits = trimmedStart.replace(/0+$/, '');
  const trailing = trimmedStart.length - digits.length;
  return {
    negative: m[1] === '-',
    digits,
    exponent: BigInt(m[4] ?? '0') - BigInt(fraction.length) + BigInt(trailing),
  };
}

/** Exact comparison of two JSON number literals: -1, 0 or 1. */
export function compareLiterals(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  const sign = (d: Decimal) => (d.digits === '' ? 0 : d.negative ? -1 : 1);
  if (sign(x) !== sign(y)) return sign(x) < sign(y) ? -1 : 1;
  if (sign(x) === 0) return 0;
  const orderX = BigInt(x.digits.length) + x.exponent;
  const orderY = BigInt(y.digits.length) + y.exponent;
  let magnitude: number;
  if (orderX !== orderY) magnitude = orderX < orderY ? -1 : 1;
  else {
    const width = Math.max(x.digits.length, y.digits.length);
    const dx = x.digits.padEnd(width, '0');
    const dy = y.digits.padEnd(width, '0');
    magnitude = dx === dy ? 0 : dx < dy ? -1 : 1;
  }
  return x.negative ? -magnitude : magnitude;
}

// An integer literal like 1e400000 must not allocate a huge bigint.
const MAX_INTEGER_DIGITS = 400n;

/** The exact integer a literal denotes, or undefined when it is not an integer (or absurdly big). */
export function literalToBigInt(literal: string): bigint | undefined {
  if (!isNumberLiteral(literal)) return undefined;
  const d = parse(literal);
  if (d.digits === '') return 0n;
  if (d.exponent < 0n) return undefined;
  if (BigInt(d.digits.length) + d.exponent > MAX_INTEGER_DIGITS) return undefined;
  const magnitude = BigInt(d.digits) * 10n ** d.exponent;
  return d.negative ? -magnitude : magnitude;
}

/** The literal of a JSON number value (number or ExactNumber), else undefined. */
export function numberLiteral(value: JsonValue): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (value instanceof ExactNumber) return value.literal;
  return undefined;
}
