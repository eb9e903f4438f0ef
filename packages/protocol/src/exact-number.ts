import {
  type Decimal,
  decimalToBigInt,
  isIntegral,
  JSON_NUMBER_PATTERN,
  parseDecimal,
} from './decimal.js';

/**
 * A JSON number a float64 cannot hold exactly, kept as the literal text it was
 * written with. Immutable. `stringifyJson` writes the literal verbatim;
 * `JSON.stringify` only ever sees the literal as a quoted string (via toJSON),
 * so no path silently rounds it.
 */
export class ExactNumber {
  readonly literal: string;
  readonly #decimal: Decimal;

  constructor(literal: string) {
    // The literal is later written into JSON verbatim, so it must be a number and nothing else.
    if (typeof literal !== 'string' || !JSON_NUMBER_PATTERN.test(literal)) {
      throw new TypeError('ExactNumber needs a JSON number literal');
    }
    this.literal = literal;
    this.#decimal = parseDecimal(literal);
    Object.freeze(this);
  }

  get isInteger(): boolean {
    return isIntegral(this.#decimal);
  }

  /** The integer value; throws RangeError for a non-integer or an absurdly large one. */
  toBigInt(): bigint {
    return decimalToBigInt(this.#decimal);
  }

  toString(): string {
    return this.literal;
  }

  toJSON(): string {
    return this.literal;
  }
}
