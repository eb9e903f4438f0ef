import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_REDACTION_RULES } from './builtin.js';
import { BUILTIN_REDACTION_EXAMPLES } from './examples.js';
import type { PassResult } from './scan.js';

const texts = Object.values(BUILTIN_REDACTION_EXAMPLES).flatMap((list) => list.map((e) => e.text));

function staged(rule: (typeof BUILTIN_REDACTION_RULES)[number], parts: string[]): PassResult {
  const stage = rule.stage();
  let text = '';
  let count = 0;
  let also = 0;
  parts.forEach((part, i) => {
    const r = stage.write(part, i === parts.length - 1);
    text += r.text;
    count += r.count;
    also += r.also?.count ?? 0;
  });
  return { text, count, ...(also > 0 ? { also: { name: rule.alsoName!, count: also } } : {}) };
}

describe('each built-in rule as a streaming stage', () => {
  it('decides exactly as over the whole line wherever its hold-back ends', () => {
    // A first write of `cut` characters lets the stage finish text[0, cut - reach]: walk
    // that point through every example (of any rule), from before it to past its end.
    for (const rule of BUILTIN_REDACTION_RULES) {
      const { reach, lookBehind } = rule.scanner;
      for (const example of texts) {
        const prefix = `${'x'.repeat(lookBehind + 2)} `;
        const line = `${prefix}${example} ${'y'.repeat(reach)}`;
        const whole = rule.apply(line);
        for (let at = 0; at <= prefix.length + example.length + 2; at++) {
          const cut = at + reach - 1;
          const result = staged(rule, [line.slice(0, cut), line.slice(cut)]);
          if (JSON.stringify(result) !== JSON.stringify(whole))
            expect.fail(`${rule.name} on ${JSON.stringify(example)}: differs with limit at ${at}`);
        }
      }
    }
  });

  it('decides exactly as over the whole line for any chunking', () => {
    const scenario = fc.record({
      rule: fc.constantFrom(...BUILTIN_REDACTION_RULES),
      pieces: fc.array(
        fc.oneof(
          fc.constantFrom(...texts, ' ', '"', "'", '=', '-', '.', ':', '://', 'u:p@', 'eyJ'),
          fc.constantFrom('password', 'api_key', 'Bearer ', 'cookie: ', 'AKIA', 'sk-', 'ghp_'),
          fc
            .tuple(fc.constantFrom('y', 'A', '=', 'k'), fc.nat({ max: 20_000 }))
            .map(([c, n]) => c.repeat(n)),
        ),
        { minLength: 1, maxLength: 10 },
      ),
      cuts: fc.array(fc.nat(), { maxLength: 8 }),
    });
    fc.assert(
      fc.property(scenario, ({ rule, pieces, cuts }) => {
        const line = pieces.join('');
        const at = [...new Set(cuts.map((c) => c % (line.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...at, line.length];
        const parts = bounds.slice(1).map((end, i) => line.slice(bounds[i], end));
        return JSON.stringify(staged(rule, parts)) === JSON.stringify(rule.apply(line));
      }),
      { numRuns: 400 },
    );
  });

  it('reads a JWT no further than its reach, whatever the length of each part', () => {
    const jwt = BUILTIN_REDACTION_RULES.find((r) => r.name === 'jwt')!;
    const part = fc.integer({ min: 0, max: 5_500 });
    fc.assert(
      fc.property(part, part, part, fc.nat(), (header, payload, signature, cut) => {
        const token = `eyJ${'h'.repeat(header)}.${'p'.repeat(payload)}.${'s'.repeat(signature)}`;
        const line = `${token} ${'y'.repeat(jwt.scanner.reach)}`;
        const at = cut % (token.length + 2);
        const parts = [
          line.slice(0, at + jwt.scanner.reach - 1),
          line.slice(at + jwt.scanner.reach - 1),
        ];
        return JSON.stringify(staged(jwt, parts)) === JSON.stringify(jwt.apply(line));
      }),
      { numRuns: 300 },
    );
  });
});
