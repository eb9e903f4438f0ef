import { describe, expect, it } from 'vitest';
import { ExactNumber } from './exact-number.js';
import { parseStrictJson, StrictJsonError, type StrictJsonErrorCode } from './strict-json.js';

const bytes = (...values: number[]) => new Uint8Array(values);
const utf8 = (text: string) => new TextEncoder().encode(text);

function failure(input: string | Uint8Array, opts?: Parameters<typeof parseStrictJson>[1]) {
  try {
    parseStrictJson(input, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(StrictJsonError);
    return err as StrictJsonError;
  }
  throw new Error('expected the input to be rejected');
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('parseStrictJson: values', () => {
  it('reads every JSON value kind from text and from bytes', () => {
    const text = ' {"a": [1, -2.5, true, false, null, "x\\u00e9\\n"], "b": {}, "c": []}\r\n\t';
    const expected = { a: [1, -2.5, true, false, null, 'xé\n'], b: {}, c: [] };
    expect(parseStrictJson(text)).toEqual(expected);
    expect(parseStrictJson(utf8(text))).toEqual(expected);
  });

  it('accepts a top-level scalar', () => {
    expect(parseStrictJson('"only"')).toBe('only');
    expect(parseStrictJson('42')).toBe(42);
  });

  it('decodes every escape, including surrogate pairs written as escapes', () => {
    expect(parseStrictJson('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\ud83d\\ude00"')).toBe(
      '"\\/\b\f\n\r\tA😀',
    );
  });

  it('keeps a __proto__ key as an ordinary member without touching the prototype', () => {
    const value = parseStrictJson('{"__proto__": {"polluted": true}, "a": 1}') as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseStrictJson: numbers', () => {
  it.each([
    ['0', 0],
    ['-5', -5],
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
    ['0.1', 0.1],
    ['1.5e3', 1500],
    ['1E2', 100],
    ['1.0', 1],
    ['2.5e-7', 2.5e-7],
    ['1e-7', 1e-7],
  ])('%s is a plain number', (literal, expected) => {
    expect(parseStrictJson(literal)).toBe(expected);
  });

  it('keeps -0 as a number', () => {
    expect(Object.is(parseStrictJson('-0'), -0)).toBe(true);
  });

  it.each([
    '9007199254740992',
    '-9007199254740993',
    '9223372036854775807',
    '9223372036854775808',
    '1e16',
    '1e400',
    '-1e400',
    '1e-400',
    '0.10000000000000000001',
    '333333333.33333329',
    '123456789012345678901234567890.5',
  ])('%s stays exact', (literal) => {
    const value = parseStrictJson(`[${literal}]`) as unknown[];
    expect(value[0]).toBeInstanceOf(ExactNumber);
    expect((value[0] as ExactNumber).literal).toBe(literal);
  });
});

describe('parseStrictJson: rejections', () => {
  it('rejects a duplicate key at the top level, with the offset of the second key', () => {
    const err = failure('{"a":1, "a":2}');
    expect(err.code).toBe('duplicate_key');
    expect(err.offset).toBe(8);
  });

  it('rejects a duplicate key at depth 5 and one spelt with an escape', () => {
    expect(failure('{"a":{"b":{"c":{"d":{"e":1,"f":2,"e":3}}}}}').code).toBe('duplicate_key');
    expect(failure('{"ab":1,"a\\u0062":2}').code).toBe('duplicate_key');
    expect(failure('{"__proto__":1,"__proto__":2}').code).toBe('duplicate_key');
  });

  it('accepts keys that differ only in case (the frame schemas judge those)', () => {
    expect(parseStrictJson('{"a":1,"A":2}')).toEqual({ a: 1, A: 2 });
  });

  it.each([
    ['overlong slash', [0x22, 0xc0, 0xaf, 0x22], 1],
    ['three-byte overlong', [0x22, 0xe0, 0x80, 0xaf, 0x22], 1],
    ['four-byte overlong', [0x22, 0xf0, 0x80, 0x80, 0xaf, 0x22], 1],
    ['lead byte F5', [0x22, 0xf5, 0x80, 0x80, 0x80, 0x22], 1],
    ['encoded surrogate', [0x22, 0x61, 0xed, 0xa0, 0x80, 0x22], 2],
    ['truncated sequence', [0x22, 0xe2, 0x82, 0x22], 1],
    ['stray continuation byte', [0x5b, 0x80, 0x5d], 1],
    ['above U+10FFFF', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1],
    ['bytes after valid multibyte text', [0x22, 0xc3, 0xa9, 0xff, 0x22], 3],
  ])('rejects invalid UTF-8: %s, at its byte offset', (_name, input, offset) => {
    const err = failure(bytes(...input));
    expect(err.code).toBe('invalid_utf8');
    expect(err.offset).toBe(offset);
  });

  it('rejects a byte order mark in bytes and in text', () => {
    expect(failure(bytes(0xef, 0xbb, 0xbf, 0x31)).code).toBe('syntax');
    expect(failure('\ufeff1').code).toBe('syntax');
  });

  it.each([
    ['escaped lone high surrogate', '"\\ud800"'],
    ['escaped lone low surrogate', '"\\udc00"'],
    ['escaped high followed by a non-surrogate escape', '"\\ud800\\u0041"'],
    ['escaped high followed by a raw low', '"\\ud83d\ude00"'],
    ['raw lone high surrogate', '"a\ud800b"'],
    ['raw lone low surrogate', '"\udc00"'],
    ['raw high then escaped low', '"\ud83d\\ude00"'],
    ['lone surrogate in a key', '{"\\udfff":1}'],
  ])('rejects an unpaired surrogate: %s', (_name, input) => {
    expect(failure(input).code).toBe('unpaired_surrogate');
  });

  it('accepts a raw surrogate pair in text input', () => {
    expect(parseStrictJson('"\ud83d\ude00"')).toBe('😀');
  });

  it('accepts nesting of exactly 64 and rejects 65 by default', () => {
    expect(() => parseStrictJson(nested(64))).not.toThrow();
    const err = failure(nested(65));
    expect(err.code).toBe('too_deep');
    expect(err.offset).toBe(64);
    expect(failure(`{"a":${'{"a":'.repeat(64)}1${'}'.repeat(65)}`).code).toBe('too_deep');
  });

  it('applies maxDepth, where a top-level scalar has depth 0', () => {
    expect(parseStrictJson('1', { maxDepth: 0 })).toBe(1);
    expect(failure('[]', { maxDepth: 0 }).code).toBe('too_deep');
    expect(() => parseStrictJson(nested(3), { maxDepth: 3 })).not.toThrow();
    expect(failure(nested(4), { maxDepth: 3 }).code).toBe('too_deep');
    expect(() => parseStrictJson('1', { maxDepth: -1 })).toThrow(RangeError);
  });

  it('counts maxBytes in UTF-8 bytes, for text as for bytes', () => {
    expect(parseStrictJson('"é"', { maxBytes: 4 })).toBe('é');
    expect(failure('"é"', { maxBytes: 3 }).code).toBe('too_large');
    expect(failure(utf8('"é"'), { maxBytes: 3 }).code).toBe('too_large');
  });

  it.each([
    '',
    '   ',
    '{',
    '[1,]',
    '{"a":1,}',
    '[,1]',
    '01',
    '-01',
    '1.',
    '.5',
    '+1',
    '1e',
    '1e+',
    '-',
    'NaN',
    'Infinity',
    "'a'",
    '{a:1}',
    '"tab\there"',
    '"\\x"',
    '"\\u12"',
    '"\\U0041"',
    'tru',
    'nul',
    '[1 2]',
    '{"a" 1}',
    '{"a":1 "b":2}',
    '1 2',
    '"abc',
    '{"a":1}x',
    '/* c */1',
    '\u00a01',
    '\u000b1',
    '[1]]',
  ])('rejects %j as a syntax error', (input) => {
    expect(failure(input).code).toBe('syntax');
  });

  it('reports byte offsets for bytes and char offsets for text', () => {
    const text = '{"é":1,"é":2}';
    expect(failure(text).offset).toBe(7);
    expect(failure(utf8(text)).offset).toBe(8);
    expect(failure(utf8(text)).message).toBe('duplicate object key at byte 8');
  });

  it('never echoes input in its messages', () => {
    const secret = 'hunter2-SECRET';
    const cases: Array<[string | Uint8Array, StrictJsonErrorCode]> = [
      [`{"${secret}":1,"${secret}":2}`, 'duplicate_key'],
      [`{"p":"${secret}\\ud800"}`, 'unpaired_surrogate'],
      [`{"p":"${secret}" ${secret}}`, 'syntax'],
      [`${'['.repeat(70)}"${secret}"`, 'too_deep'],
      [new Uint8Array([...utf8(`"${secret}`), 0xff, 0x22]), 'invalid_utf8'],
    ];
    for (const [input, code] of cases) {
      const err = failure(input);
      expect(err.code).toBe(code);
      expect(err.message).not.toContain('hunter2');
      expect(err.message.length).toBeLessThan(80);
    }
  });
});
