import { decimalEquals, parseDecimal } from './decimal.js';
import { ExactNumber } from './exact-number.js';
import type { JsonArray, JsonObject, JsonValue } from './json-value.js';
import { JSON_MAX_DEPTH } from './limits.js';
import { decodeUtf8, firstInvalidUtf8Offset, utf8ByteLength } from './utf8.js';

export type StrictJsonErrorCode =
  | 'invalid_utf8'
  | 'unpaired_surrogate'
  | 'duplicate_key'
  | 'too_deep'
  | 'too_large'
  | 'syntax';

/** The message names the problem and an offset only: the input may be a secret. */
export class StrictJsonError extends Error {
  override readonly name = 'StrictJsonError';
  readonly code: StrictJsonErrorCode;
  /** Byte offset for Uint8Array input, UTF-16 code unit offset for string input. */
  readonly offset: number;

  constructor(code: StrictJsonErrorCode, detail: string, offset: number, unit: 'byte' | 'char') {
    super(`${detail} at ${unit} ${offset}`);
    this.code = code;
    this.offset = offset;
  }
}

export interface StrictJsonOptions {
  /** Deepest allowed nesting of objects and arrays (default 64; a top-level scalar is depth 0). */
  maxDepth?: number;
  /** Largest allowed input in UTF-8 bytes (default: unlimited). */
  maxBytes?: number;
}

// The reader recurses once per level; beyond this the call stack, not the input, is the limit.
const MAX_SUPPORTED_DEPTH = 1000;

/** Where a top-level object member's value sits in the text (UTF-16 offsets, end exclusive). */
export interface TextSpan {
  start: number;
  end: number;
}

/**
 * Reads one JSON text under RFC 8259 with no leniency: duplicate keys, invalid
 * UTF-8, unpaired surrogates (raw or escaped), a BOM, trailing data and nesting
 * beyond maxDepth are all errors. Numbers stay exact (see ExactNumber).
 */
export function parseStrictJson(
  input: string | Uint8Array,
  opts: StrictJsonOptions = {},
): JsonValue {
  return readStrictJson(input, opts).value;
}

/**
 * parseStrictJson plus the text it read and the spans of the top-level object's
 * member values, so a caller can keep the exact bytes of one member.
 * @internal
 */
export function readStrictJson(
  input: string | Uint8Array,
  opts: StrictJsonOptions = {},
): { value: JsonValue; text: string; topLevelSpans: Map<string, TextSpan> } {
  const maxDepth = opts.maxDepth ?? JSON_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > MAX_SUPPORTED_DEPTH) {
    throw new RangeError(`maxDepth must be an integer from 0 to ${MAX_SUPPORTED_DEPTH}`);
  }
  const unit = typeof input === 'string' ? 'char' : 'byte';
  const size = typeof input === 'string' ? utf8ByteLength(input) : input.byteLength;
  if (opts.maxBytes !== undefined && size > opts.maxBytes) {
    throw new StrictJsonError('too_large', `input exceeds ${opts.maxBytes} bytes`, 0, unit);
  }
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    const decoded = decodeUtf8(input);
    if (decoded === undefined) {
      throw new StrictJsonError(
        'invalid_utf8',
        'invalid UTF-8',
        firstInvalidUtf8Offset(input),
        unit,
      );
    }
    text = decoded;
  }
  const reader = new Reader(text, maxDepth);
  try {
    return { value: reader.readDocument(), text, topLevelSpans: reader.topLevelSpans };
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    const offset = unit === 'char' ? err.at : utf8ByteLength(text.slice(0, err.at));
    throw new StrictJsonError(err.code, err.detail, offset, unit);
  }
}

class Failure {
  constructor(
    readonly code: StrictJsonErrorCode,
    readonly detail: string,
    readonly at: number,
  ) {}
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SIMPLE_ESCAPES: Record<number, string> = {
  34: '"',
  92: '\\',
  47: '/',
  98: '\b',
  102: '\f',
  110: '\n',
  114: '\r',
  116: '\t',
};

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

class Reader {
  private pos = 0;
  readonly topLevelSpans = new Map<string, TextSpan>();

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  readDocument(): JsonValue {
    if (this.text.charCodeAt(0) === 0xfeff) this.fail('syntax', 'byte order mark');
    const value = this.readValue(0);
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('syntax', 'unexpected data after the value');
    return value;
  }

  private fail(code: StrictJsonErrorCode, detail: string, at = this.pos): never {
    throw new Failure(code, detail, at);
  }

  private skipWhitespace(): void {
    const { text } = this;
    for (;;) {
      const c = text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private readValue(depth: number): JsonValue {
    this.skipWhitespace();
    const c = this.text.charCodeAt(this.pos);
    if (c === 0x7b) return this.readObject(depth + 1);
    if (c === 0x5b) return this.readArray(depth + 1);
    if (c === QUOTE) return this.readString();
    if (c === 0x2d || isDigit(c)) return this.readNumber();
    if (this.readWord('true')) return true;
    if (this.readWord('false')) return false;
    if (this.readWord('null')) return null;
    return this.fail(
      'syntax',
      Number.isNaN(c) ? 'unexpected end of input' : 'unexpected character',
    );
  }

  private readWord(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private expect(code: number, what: string): void {
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) !== code) this.fail('syntax', `expected ${what}`);
    this.pos++;
  }

  private readObject(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail('too_deep', `nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const object: JsonObject = {};
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== QUOTE) this.fail('syntax', 'expected a string key');
      const keyAt = this.pos;
      const key = this.readString();
      if (Object.hasOwn(object, key)) this.fail('duplicate_key', 'duplicate object key', keyAt);
      this.expect(0x3a, '":"');
      this.skipWhitespace();
      const start = this.pos;
      const value = this.readValue(depth);
      if (depth === 1) this.topLevelSpans.set(key, { start, end: this.pos });
      if (key === '__proto__') {
        // Plain assignment would replace the prototype instead of adding a member.
        Object.defineProperty(object, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else object[key] = value;
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x7d) return object;
      if (c !== 0x2c) this.fail('syntax', 'expected "," or "}"', this.pos - 1);
    }
  }

  private readArray(depth: number): JsonArray {
    if (depth > this.maxDepth) this.fail('too_deep', `nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const array: JsonArray = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return array;
    }
    for (;;) {
      array.push(this.readValue(depth));
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x5d) return array;
      if (c !== 0x2c) this.fail('syntax', 'expected "," or "]"', this.pos - 1);
    }
  }

  private readString(): string {
    const { text } = this;
    this.pos++;
    let out = '';
    let runStart = this.pos;
    for (;;) {
      const c = text.charCodeAt(this.pos);
      if (c === QUOTE) {
        out += text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === BACKSLASH) {
        out += text.slice(runStart, this.pos) + this.readEscape();
        runStart = this.pos;
      } else if (Number.isNaN(c)) this.fail('syntax', 'unterminated string');
      else if (c < 0x20) this.fail('syntax', 'control character in string');
      else if (isHighSurrogate(c)) {
        if (!isLowSurrogate(text.charCodeAt(this.pos + 1)))
          this.fail('unpaired_surrogate', 'unpaired surrogate');
        this.pos += 2;
      } else if (isLowSurrogate(c)) this.fail('unpaired_surrogate', 'unpaired surrogate');
      else this.pos++;
    }
  }

  /** Reads one escape at pos (a backslash) and returns the text it stands for. */
  private readEscape(): string {
    const at = this.pos;
    const e = this.text.charCodeAt(at + 1);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    if (e !== 0x75) this.fail('syntax', 'invalid escape');
    const unit = this.hex4(at + 2);
    if (isLowSurrogate(unit)) this.fail('unpaired_surrogate', 'unpaired surrogate');
    if (!isHighSurrogate(unit)) {
      this.pos += 6;
      return String.fromCharCode(unit);
    }
    // A high surrogate escape counts only when a low surrogate escape follows at once.
    const low =
      this.text.charCodeAt(at + 6) === BACKSLASH && this.text.charCodeAt(at + 7) === 0x75
        ? this.hex4(at + 8)
        : -1;
    if (!isLowSurrogate(low)) this.fail('unpaired_surrogate', 'unpaired surrogate');
    this.pos += 12;
    return String.fromCharCode(unit, low);
  }

  private hex4(at: number): number {
    const digits = this.text.slice(at, at + 4);
    if (!/^[0-9A-Fa-f]{4}$/.test(digits)) this.fail('syntax', 'invalid \\u escape', at);
    return Number.parseInt(digits, 16);
  }

  private readNumber(): number | ExactNumber {
    const { text } = this;
    const start = this.pos;
    if (text.charCodeAt(this.pos) === 0x2d) this.pos++;
    const first = text.charCodeAt(this.pos);
    if (first === 0x30) this.pos++;
    else if (isDigit(first)) this.skipDigits();
    else this.fail('syntax', 'invalid number');
    let plainInteger = true;
    if (text.charCodeAt(this.pos) === 0x2e) {
      plainInteger = false;
      this.pos++;
      if (!isDigit(text.charCodeAt(this.pos))) this.fail('syntax', 'invalid number');
      this.skipDigits();
    }
    const e = text.charCodeAt(this.pos);
    if (e === 0x65 || e === 0x45) {
      plainInteger = false;
      this.pos++;
      const sign = text.charCodeAt(this.pos);
      if (sign === 0x2b || sign === 0x2d) this.pos++;
      if (!isDigit(text.charCodeAt(this.pos))) this.fail('syntax', 'invalid number');
      this.skipDigits();
    }
    return toJsonNumber(text.slice(start, this.pos), plainInteger);
  }

  private skipDigits(): void {
    while (isDigit(this.text.charCodeAt(this.pos))) this.pos++;
  }
}

// A literal becomes a JS number only if ES Number-to-String of its float64 denotes exactly the
// literal's decimal value and, when that value is an integer, it is a safe integer; else ExactNumber.
function toJsonNumber(literal: string, plainInteger: boolean): number | ExactNumber {
  const n = Number(literal);
  if (plainInteger) return Number.isSafeInteger(n) ? n : new ExactNumber(literal);
  if (
    Number.isFinite(n) &&
    (!Number.isInteger(n) || Number.isSafeInteger(n)) &&
    decimalEquals(parseDecimal(String(n)), parseDecimal(literal))
  ) {
    return n;
  }
  return new ExactNumber(literal);
}
