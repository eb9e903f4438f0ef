import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approverTextProblem,
  bidiControlIn,
  codePointLabel,
  forbiddenCodePoint,
  REASON_MAX_LENGTH,
  REASON_MIN_VISIBLE,
  reasonProblem,
  replaceForbidden,
  visibleLength,
} from './text-rules.js';

/** The forbidden set written out by code point, independently of the implementation's loop. */
function isForbidden(codePoint: number, shape: 'line' | 'multiline'): boolean {
  if (shape === 'multiline' && [0x09, 0x0a, 0x0d].includes(codePoint)) return false;
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0xd800 && codePoint <= 0xdfff) ||
    (codePoint >= 0xfdd0 && codePoint <= 0xfdef) ||
    codePoint % 0x10000 === 0xfffe ||
    codePoint % 0x10000 === 0xffff
  );
}

const anyCodePoint = fc.oneof(
  fc.integer({ min: 0, max: 0x10ffff }),
  fc.integer({ min: 0, max: 0xa0 }),
  fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x10fffe),
);
/** A lone surrogate stays one UTF-16 unit; every other code point is written as itself. */
const unitsOf = (codePoint: number) =>
  codePoint >= 0xd800 && codePoint <= 0xdfff
    ? String.fromCharCode(codePoint)
    : String.fromCodePoint(codePoint);
const allowed = (shape: 'line' | 'multiline') =>
  fc
    .integer({ min: 0, max: 0x10ffff })
    .filter((cp) => !isForbidden(cp, shape))
    .map(unitsOf);
const cleanText = (shape: 'line' | 'multiline') =>
  fc.array(allowed(shape), { maxLength: 40 }).map((chars) => chars.join(''));

describe('forbiddenCodePoint', () => {
  for (const shape of ['line', 'multiline'] as const) {
    it(`accepts any text of allowed code points (${shape})`, () => {
      fc.assert(
        fc.property(cleanText(shape), (text) => {
          expect(forbiddenCodePoint(text, shape)).toBeUndefined();
        }),
      );
    });

    it(`finds one forbidden code point wherever it sits (${shape})`, () => {
      fc.assert(
        fc.property(
          cleanText(shape),
          anyCodePoint.filter((cp) => isForbidden(cp, shape)),
          cleanText(shape),
          (before, bad, after) => {
            expect(forbiddenCodePoint(`${before}${unitsOf(bad)}${after}`, shape)).toBe(bad);
          },
        ),
      );
    });

    it(`agrees with the written-out set on every single code point (${shape})`, () => {
      fc.assert(
        fc.property(anyCodePoint, (cp) => {
          expect(forbiddenCodePoint(unitsOf(cp), shape) !== undefined).toBe(isForbidden(cp, shape));
        }),
      );
    });
  }

  it.each([
    ['a\u0000b', 0x0000],
    ['tab\there', 0x0009],
    ['line\nbreak', 0x000a],
    ['esc\u001b[31m', 0x001b],
    ['del\u007f', 0x007f],
    ['csi\u009b', 0x009b],
    ['lone \ud800 high', 0xd800],
    ['lone \udc00 low', 0xdc00],
    ['reversed \udc00\ud800', 0xdc00],
    ['\ufffe', 0xfffe],
    ['\uffff', 0xffff],
    ['\ufdd0', 0xfdd0],
    ['\u{1fffe}', 0x1fffe],
    ['\u{10ffff}', 0x10ffff],
  ])('refuses %j in a line', (text, codePoint) => {
    expect(forbiddenCodePoint(text, 'line')).toBe(codePoint);
  });

  it.each(['web-01', 'Ünïcødé 名前', 'emoji 🚀 ok', '\u{1f600}', 'x\u200by', '\ufeff'])(
    'accepts %j in a line',
    (text) => {
      expect(forbiddenCodePoint(text, 'line')).toBeUndefined();
    },
  );

  it('lets multiline text keep tabs and line breaks, nothing else', () => {
    expect(forbiddenCodePoint('a\tb\r\nc', 'multiline')).toBeUndefined();
    expect(forbiddenCodePoint('a\u000bb', 'multiline')).toBe(0x0b);
    expect(forbiddenCodePoint('a\u0000b', 'multiline')).toBe(0);
  });

  it('replaceForbidden leaves clean text alone and leaves nothing forbidden', () => {
    fc.assert(
      fc.property(cleanText('line'), (text) => {
        expect(replaceForbidden(text)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.array(anyCodePoint.map(unitsOf), { maxLength: 30 }), (chars) => {
        const replaced = replaceForbidden(chars.join(''));
        expect(forbiddenCodePoint(replaced)).toBeUndefined();
        expect([...replaced].length).toBe([...chars.join('')].length);
      }),
    );
    expect(replaceForbidden('curl/8\u0000\u0085')).toBe('curl/8\ufffd\ufffd');
  });

  it('labels code points as U+XXXX', () => {
    expect(codePointLabel(0)).toBe('U+0000');
    expect(codePointLabel(0x202e)).toBe('U+202E');
    expect(codePointLabel(0x1fffe)).toBe('U+1FFFE');
  });
});

const INVISIBLE = [
  ' ',
  '\t',
  '\n',
  '\u00a0', // no-break space
  '\u00ad', // soft hyphen
  '\u034f', // combining grapheme joiner
  '\u0301', // combining acute accent on nothing
  '\u115f', // Hangul choseong filler
  '\u180e', // Mongolian vowel separator
  '\u200b', // zero-width space
  '\u200c', // zero-width non-joiner
  '\u200d', // zero-width joiner
  '\u200e', // left-to-right mark
  '\u2028', // line separator
  '\u2060', // word joiner
  '\u2800', // braille blank
  '\u3000', // ideographic space
  '\u3164', // Hangul filler
  '\ufe0f', // variation selector
  '\ufeff', // zero-width no-break space
  '\uffa0', // halfwidth Hangul filler
  '\u{e0041}', // tag latin capital A
];
const VISIBLE = ['a', 'Z', '7', '.', '!', '€', '名', 'ж', 'ع', '🚀', '\u0903'];

describe('visibleLength', () => {
  it('counts no invisible character, in any mix', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...INVISIBLE), { maxLength: 60 }), (chars) => {
        expect(visibleLength(chars.join(''))).toBe(0);
      }),
    );
  });

  it('counts exactly the visible characters of a mix', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...INVISIBLE), fc.constantFrom(...VISIBLE)), {
          maxLength: 60,
        }),
        (chars) => {
          const expected = chars.filter((c) => VISIBLE.includes(c)).length;
          expect(visibleLength(chars.join(''))).toBe(expected);
        },
      ),
    );
  });

  it('never counts more than the code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        expect(visibleLength(text)).toBeLessThanOrEqual([...text].length);
      }),
    );
  });
});

describe('reasonProblem', () => {
  const good = 'checking why the web tier is slow';

  it('accepts a plain reason', () => {
    expect(reasonProblem(good)).toBeUndefined();
    expect(reasonProblem('disk full on db-1\n(see alert #42)\tnow')).toBeUndefined();
  });

  it('refuses twelve zero-width characters, and any padding of fewer than twelve visible ones', () => {
    expect(reasonProblem('\u200b'.repeat(12))).toMatch(/12 visible characters/);
    fc.assert(
      fc.property(
        fc
          .array(fc.oneof(fc.constantFrom(...INVISIBLE), fc.constantFrom(...VISIBLE)), {
            minLength: REASON_MIN_VISIBLE,
            maxLength: 60,
          })
          .filter((chars) => chars.filter((c) => VISIBLE.includes(c)).length < REASON_MIN_VISIBLE),
        (chars) => {
          expect(reasonProblem(chars.join(''))).toMatch(/visible characters/);
        },
      ),
    );
  });

  it('refuses every bidi override and isolate, anywhere', () => {
    const bidi = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    fc.assert(
      fc.property(fc.nat({ max: good.length }), fc.constantFrom(...bidi), (at, codePoint) => {
        const text = `${good.slice(0, at)}${String.fromCodePoint(codePoint)}${good.slice(at)}`;
        expect(bidiControlIn(text)).toBe(codePoint);
        expect(reasonProblem(text)).toContain(codePointLabel(codePoint));
        expect(approverTextProblem(text)).toContain('bidi control');
      }),
    );
  });

  it('keeps bidi marks (right-to-left text uses them) but does not count them', () => {
    expect(reasonProblem(`\u200fعطل في قاعدة البيانات`)).toBeUndefined();
    expect(reasonProblem('\u200f'.repeat(20))).toMatch(/visible/);
  });

  it('refuses NUL and other controls, keeps line breaks', () => {
    expect(reasonProblem(`${good}\u0000`)).toBe('contains the forbidden character U+0000');
    expect(reasonProblem(`${good}\u001b[2J`)).toContain('U+001B');
  });

  it('counts the length in code points', () => {
    expect(reasonProblem('🚀'.repeat(REASON_MAX_LENGTH))).toBeUndefined();
    expect(reasonProblem('a'.repeat(REASON_MAX_LENGTH + 1))).toMatch(/longer than 2000/);
  });

  it('asks the runner only for one visible character', () => {
    expect(reasonProblem('check load', 1)).toBeUndefined();
    expect(reasonProblem('  \u200b ', 1)).toBe('has no visible character');
    expect(reasonProblem('x\u202e', 1)).toContain('U+202E');
  });
});
