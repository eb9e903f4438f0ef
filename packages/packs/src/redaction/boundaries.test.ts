import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_REDACTION_EXAMPLES,
  BUILTIN_REDACTION_RULES,
  compileRedactionRules,
  createStreamRedactor,
  type RedactionHit,
  type RedactionRuleInput,
  redactText,
  sensitiveValueRules,
  streamHoldBack,
} from '../index.js';

// The runner hands a long line to the redactor in 64 KiB pieces (ASCII here, so bytes = characters).
const PIECE = 64 * 1024;
const builtins = compileRedactionRules(BUILTIN_REDACTION_RULES);
const examples = Object.entries(BUILTIN_REDACTION_EXAMPLES).flatMap(([rule, list]) =>
  list.map((example) => ({ rule, ...example })),
);

/** Streams text cut at the given offsets (any order, duplicates allowed). */
function streamed(text: string, cuts: number[], rules = builtins) {
  const redactor = createStreamRedactor(rules);
  let out = '';
  let last = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= last || cut >= text.length) continue;
    out += redactor.push(text.slice(last, cut));
    last = cut;
  }
  out += redactor.push(text.slice(last)) + redactor.end();
  return { text: out, hits: redactor.hits() };
}

/** A long line whose example starts `offset` characters before the piece bound. */
function acrossBound(text: string, offset: number): { line: string; prefix: string } {
  const prefix = `${'x'.repeat(PIECE - offset - 1)} `;
  return { line: `${prefix}${text}\n`, prefix };
}

function same(actual: { text: string; hits: RedactionHit[] }, expected: typeof actual): boolean {
  return (
    actual.text === expected.text && JSON.stringify(actual.hits) === JSON.stringify(expected.hits)
  );
}

describe('a secret across the 64 KiB piece bound', () => {
  it('redacts AKIA… split between pieces as a whole line would, and counts it', () => {
    const { line, prefix } = acrossBound('AKIAIOSFODNN7EXAMPLE', 6);
    expect(line.slice(PIECE - 6, PIECE)).toBe('AKIAIO');
    const out = streamed(line, [PIECE]);
    expect(out.text === `${prefix}[REDACTED_AWS_KEY]\n`).toBe(true);
    expect(out.hits).toEqual([{ name: 'aws-access-key', type: 'builtin', count: 1 }]);
  });

  it('redacts every built-in example cut at every offset in and around it', () => {
    for (const { rule, text, redacted } of examples) {
      const alone = redactText(text, builtins);
      for (let offset = -2; offset <= text.length + 2; offset++) {
        const { line, prefix } = acrossBound(text, offset);
        const expected = { text: `${prefix}${redacted}\n`, hits: alone.hits };
        if (!same(redactText(line, builtins), expected))
          expect.fail(`${rule}: whole line differs with the bound at offset ${offset}`);
        if (!same(streamed(line, [PIECE]), expected))
          expect.fail(`${rule}: stream differs with the bound at offset ${offset}`);
      }
    }
  });

  it('redacts every built-in example under any chunking around the bound', () => {
    const example = fc.constantFrom(...examples);
    const scenario = example.chain((ex) =>
      fc.record({
        ex: fc.constant(ex),
        offset: fc.integer({ min: -3, max: ex.text.length + 3 }),
        near: fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 12 }),
        anywhere: fc.array(fc.nat(), { maxLength: 6 }),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ ex, offset, near, anywhere }) => {
        const { line, prefix } = acrossBound(ex.text, offset);
        const cuts = [
          PIECE,
          ...near.map((d) => PIECE + d),
          ...anywhere.map((n) => n % line.length),
        ];
        const expected = {
          text: `${prefix}${ex.redacted}\n`,
          hits: redactText(ex.text, builtins).hits,
        };
        return same(streamed(line, cuts), expected) && same(redactText(line, builtins), expected);
      }),
      { numRuns: 150 },
    );
  });

  it('redacts secrets across several bounds of one line and between lines', () => {
    const secrets = examples.filter((e) => !e.text.includes('\n')).slice(0, 8);
    const parts = secrets.map((e, i) => `${'z'.repeat(PIECE - 40 - i)} ${e.text}`);
    const line = `${parts.join(' ')}\n${parts.join(' ')}`;
    const whole = redactText(line, builtins);
    for (const e of secrets) expect(whole.text.includes(e.text)).toBe(false);
    const bounds = Array.from(
      { length: Math.ceil(line.length / PIECE) },
      (_, i) => (i + 1) * PIECE,
    );
    expect(same(streamed(line, bounds), whole)).toBe(true);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: line.length }), { maxLength: 40 }), (cuts) =>
        same(streamed(line, [...bounds, ...cuts]), whole),
      ),
      { numRuns: 40 },
    );
  });
});

describe('pack rules on long lines', () => {
  const rules: RedactionRuleInput[] = [
    ...sensitiveValueRules(['hunter2-sensitive']),
    {
      name: 'ldap',
      type: 'regex',
      pattern: '(?i)(ldapbindpasswd=)[^,}\\s]*',
      replacement: '$1[REDACTED]',
    },
    { name: 'anchored', type: 'regex', pattern: '^secret-line.*$', replacement: '[LINE]' },
    ...BUILTIN_REDACTION_RULES,
  ];
  const compiled = compileRedactionRules(rules);
  const piece = fc.oneof(
    fc.constantFrom(
      'hunter2-sensitive',
      'ldapBindPasswd=abc,',
      `LDAPBINDPASSWD=${'p'.repeat(9000)}`,
      'secret-line ',
      'AKIAIOSFODNN7EXAMPLE',
      ' ',
      '\n',
      '😀',
    ),
    fc.string({ maxLength: 20 }),
    fc.nat({ max: 40_000 }).map((n) => 'w'.repeat(n)),
  );

  it('gives the same output and hits for any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (pieces, cuts) => {
          const text = pieces.join('');
          const whole = redactText(text, compiled);
          const at = cuts.map((n) => n % (text.length + 1));
          return same(streamed(text, at, compiled), whole);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('treats a rule that matches empty text the same however a long line streams', () => {
    const empty = compileRedactionRules([
      { name: 'empty', type: 'regex', pattern: 'q*', replacement: '<>' },
    ]);
    const line = `${'aq'.repeat(20_000)}😀${'b'.repeat(10_000)}\n`;
    const whole = redactText(line, empty);
    expect(whole.text.startsWith('<>a<><>a<>')).toBe(true);
    for (const size of [1000, 8191, PIECE])
      expect(
        same(
          streamed(
            line,
            Array.from({ length: 80 }, (_, i) => i * size),
            empty,
          ),
          whole,
        ),
      ).toBe(true);
  });

  it('redacts a sensitive value split across the piece bound', () => {
    const { line, prefix } = acrossBound('hunter2-sensitive', 7);
    const out = streamed(line, [PIECE], compiled);
    expect(out.text === `${prefix}[REDACTED]\n`).toBe(true);
    expect(out.hits).toEqual([{ name: 'sensitive-arg', type: 'literal', count: 1 }]);
  });

  it('cuts an unbounded pack match on a long line, the same way however it streams', () => {
    const line = `${'k'.repeat(PIECE)} ldapbindpasswd=${'v'.repeat(3 * PIECE)}\n`;
    const whole = redactText(line, compiled);
    expect(whole.text.includes('ldapbindpasswd=[REDACTED]')).toBe(true);
    expect(same(streamed(line, [PIECE, 2 * PIECE, 3 * PIECE], compiled), whole)).toBe(true);
  });
});

describe('hold-back', () => {
  it('is bounded for the built-in rules', () => {
    // Documented in docs/runner.md; the sum of every rule's reach, since each reads the last's output.
    expect(streamHoldBack(builtins)).toBe(68_423);
  });
});
