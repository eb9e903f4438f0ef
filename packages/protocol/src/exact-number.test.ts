import { describe, expect, it } from 'vitest';
import { ExactNumber } from './exact-number.js';

describe('ExactNumber', () => {
  it.each(['', ' 1', '1 ', '01', '+1', '1.', '.5', '0x10', 'NaN', '-Infinity', '1}', '1,"x":2'])(
    'refuses %j, since it is later written into JSON verbatim',
    (literal) => {
      expect(() => new ExactNumber(literal)).toThrow(TypeError);
    },
  );

  it('is immutable', () => {
    const n = new ExactNumber('9223372036854775808');
    expect(Object.isFrozen(n)).toBe(true);
    expect(() => {
      (n as { literal: string }).literal = '1';
    }).toThrow(TypeError);
    expect(n.literal).toBe('9223372036854775808');
  });

  it.each([
    ['9223372036854775808', true],
    ['1e400', true],
    ['1.50e1', true],
    ['12.3e1', true],
    ['-0.0', true],
    ['1.5', false],
    ['1e-400', false],
    ['0.10000000000000000001', false],
  ])('%s isInteger = %s', (literal, expected) => {
    expect(new ExactNumber(literal).isInteger).toBe(expected);
  });

  it('converts integers to bigint exactly', () => {
    expect(new ExactNumber('9223372036854775808').toBigInt()).toBe(2n ** 63n);
    expect(new ExactNumber('-9223372036854775809').toBigInt()).toBe(-(2n ** 63n) - 1n);
    expect(new ExactNumber('-1.5e1').toBigInt()).toBe(-15n);
    expect(new ExactNumber('1e30').toBigInt()).toBe(10n ** 30n);
  });

  it('refuses toBigInt for a fraction and for an absurdly large integer', () => {
    expect(() => new ExactNumber('1.5').toBigInt()).toThrow(RangeError);
    expect(() => new ExactNumber('1e999999999').toBigInt()).toThrow(RangeError);
  });

  it('shows only its literal, and JSON.stringify sees a string, never a rounded number', () => {
    const n = new ExactNumber('9223372036854775808');
    expect(String(n)).toBe('9223372036854775808');
    expect(JSON.stringify({ n })).toBe('{"n":"9223372036854775808"}');
  });
});
