import { describe, expect, it } from 'vitest';
import { ExactNumber } from './exact-number.js';
import type { JsonValue } from './json-value.js';
import { stringifyJson } from './json-writer.js';
import { parseStrictJson } from './strict-json.js';

describe('stringifyJson', () => {
  it('writes like JSON.stringify for ordinary values, keeping member order', () => {
    const value = { z: 1, a: [true, null, 'é\n"\u0001'], m: { y: -0.5, x: 1e21 } };
    expect(stringifyJson(value)).toBe(JSON.stringify(value));
  });

  it('writes an ExactNumber verbatim', () => {
    const value = { n: new ExactNumber('9223372036854775808'), f: new ExactNumber('1.50E+400') };
    expect(stringifyJson(value)).toBe('{"n":9223372036854775808,"f":1.50E+400}');
  });

  it('round-trips exactly through parseStrictJson', () => {
    const text = '{"b":[1,0.1,1e400,9223372036854775807],"a":{"__proto__":{"x":"😀"}}}';
    expect(stringifyJson(parseStrictJson(text))).toBe(text);
  });

  it('leaves out undefined members as JSON.stringify does', () => {
    expect(stringifyJson({ a: 1, b: undefined } as unknown as JsonValue)).toBe('{"a":1}');
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['an undefined array element', [1, undefined]],
    ['an unpaired surrogate in a value', { a: 'x\ud800' }],
    ['an unpaired surrogate in a key', { '\udc00': 1 }],
    ['a bigint', { a: 1n }],
    ['a function', { a: () => 1 }],
    ['a Date', { a: new Date(0) }],
    ['a Map', new Map()],
  ])('refuses %s', (_name, value) => {
    expect(() => stringifyJson(value as unknown as JsonValue)).toThrow(TypeError);
  });

  it('refuses a cycle but accepts a shared, acyclic reference', () => {
    const shared = { s: 1 };
    expect(stringifyJson({ a: shared, b: shared })).toBe('{"a":{"s":1},"b":{"s":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stringifyJson(cyclic as JsonValue)).toThrow(TypeError);
  });
});
