import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalSha256Hex } from './canonical-json.js';
import { ExactNumber } from './exact-number.js';
import type { JsonValue } from './json-value.js';
import { parseStrictJson } from './strict-json.js';

describe('canonicalJson', () => {
  it('does not depend on member order', () => {
    const a = parseStrictJson('{"b":1,"a":{"d":[3,{"y":1,"x":2}],"c":null}}');
    const b = parseStrictJson('{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson(a)).toBe('{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalSha256Hex(b)).toBe(canonicalSha256Hex(a));
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3)', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const expected = order.map(
      (key) => `${JSON.stringify(key)}:${JSON.stringify(value[key as keyof typeof value])}`,
    );
    // Compare text, not a parsed object: JS objects move integer-like keys first.
    expect(canonicalJson(value)).toBe(`{${expected.join(',')}}`);
  });

  it('escapes strings as RFC 8785 does', () => {
    expect(canonicalJson('\u0000\u0001\u000f\u001f')).toBe('"\\u0000\\u0001\\u000f\\u001f"');
    expect(canonicalJson('\b\f\n\r\t')).toBe('"\\b\\f\\n\\r\\t"');
    expect(canonicalJson('"\\')).toBe('"\\"\\\\"');
    expect(canonicalJson('/\u007f')).toBe('"/\u007f"');
    expect(canonicalJson('é€😀\u2028')).toBe('"é€😀\u2028"');
  });

  it('matches the RFC 8785 §3.2.2 example, except the one number a float64 would round', () => {
    const input = parseStrictJson(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    // JCS writes 333333333.3333333 (the float64); we keep the exact decimal.
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.33333329,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('keeps 2^63−1 and 2^63 apart, which float64 JCS would merge', () => {
    const below = parseStrictJson('{"n":9223372036854775807}');
    const at = parseStrictJson('{"n":9223372036854775808}');
    expect(canonicalJson(below)).toBe('{"n":9223372036854775807}');
    expect(canonicalJson(at)).toBe('{"n":9223372036854775808}');
    expect(canonicalSha256Hex(below)).not.toBe(canonicalSha256Hex(at));
  });

  it('writes JS numbers with ES Number-to-String', () => {
    expect(canonicalJson([1e21, 1e-7, -0, 0.1, 100, -1.5])).toBe('[1e+21,1e-7,0,0.1,100,-1.5]');
  });

  it.each([
    ['10000000000000000000', '1.0E19'],
    ['1e+400', '10e399'],
    ['1.23456789012345678901234e+23', '123456789012345678901234'],
    ['0.10000000000000000001', '1.0000000000000000001e-1'],
    ['-1e-407', '-0.0000001e-400'],
    ['0', '-0.000e5'],
  ])('writes the exact value %s for the ExactNumber literal %s', (expected, literal) => {
    expect(canonicalJson(new ExactNumber(literal))).toBe(expected);
  });

  it('writes an ExactNumber a float64 can hold exactly as the float would be written', () => {
    expect(canonicalJson(new ExactNumber('1.50'))).toBe(canonicalJson(1.5));
    expect(canonicalJson(new ExactNumber('1E30'))).toBe(canonicalJson(1e30));
    expect(canonicalJson(new ExactNumber('0.0000010'))).toBe(canonicalJson(0.000001));
  });

  it.each([
    ['an undefined member', { a: undefined }],
    ['an undefined element', [undefined]],
    ['NaN', Number.NaN],
    ['-Infinity', { a: Number.NEGATIVE_INFINITY }],
    ['an unpaired surrogate', { a: '\ud800' }],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalJson(value as unknown as JsonValue)).toThrow(TypeError);
  });

  it('hashes the UTF-8 bytes of the canonical text', () => {
    expect(canonicalSha256Hex({ b: 'é', a: 1 })).toBe(
      '09ad9fd2fb648cb2f62141215828ea00a62c299db05d20aa9ade2f527a301cc6',
    );
    expect(canonicalSha256Hex([])).toBe(createHash('sha256').update('[]').digest('hex'));
  });
});
