import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_RULES } from './default-policy.js';
import { globCovers, globMatches } from './glob.js';
import { evaluateRules, type PolicyRules, rulesWarnings, validatePolicyRules } from './rules.js';

const rules = (patch: Partial<PolicyRules> = {}): PolicyRules => ({
  ...structuredClone(DEFAULT_POLICY_RULES),
  ...patch,
});

describe('globs', () => {
  it.each([
    ['linux.uptime', 'linux.uptime', true],
    ['linux.*', 'linux.uptime', true],
    ['linux.*', 'linux.', true],
    ['linux.*', 'linux', false],
    ['*.restart', 'systemd.unit.restart', true],
    ['*', 'anything.at.all', true],
    ['LINUX.Uptime', 'linux.UPTIME', true],
    ['linux.up', 'linux.uptime', false], // anchored at the end
    ['inux.uptime', 'linux.uptime', false], // anchored at the start
    ['lin*ime', 'linux.uptime', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['linux.uptim?', 'linux.uptime', false], // `?` is literal
    ['linux.[u]ptime', 'linux.uptime', false], // brackets are literal
    ['linux.u.time', 'linux.uptime', false], // `.` is literal
  ])('%s against %s → %s', (glob, text, expected) => {
    expect(globMatches(glob, text)).toBe(expected);
  });

  it('stays linear on adversarial patterns', () => {
    const glob = `${'a*'.repeat(60)}b`;
    const text = 'a'.repeat(5000);
    expect(globMatches(glob, text)).toBe(false);
  });

  it.each([
    ['*', 'linux.*', true],
    ['linux.*', 'linux.uptime', true],
    ['linux.*', 'linux.*.restart', true],
    ['linux.*.restart', 'linux.*', false],
    ['linux.uptime', 'linux.*', false],
    ['*.restart', 'systemd.*.restart', true],
    ['LINUX.*', 'linux.disk', true],
    ['a*', '*a', false],
  ])('%s covers %s → %s', (outer, inner, expected) => {
    expect(globCovers(outer, inner)).toBe(expected);
  });
});

describe('validatePolicyRules', () => {
  it('accepts the default rules', () => {
    expect(validatePolicyRules(DEFAULT_POLICY_RULES)).toEqual({
      ok: true,
      rules: DEFAULT_POLICY_RULES,
    });
  });

  it('accepts every monotonic combination and rejects every other', () => {
    const decisions = ['allow', 'require_approval', 'deny'] as const;
    let accepted = 0;
    for (const low of decisions)
      for (const medium of decisions)
        for (const high of decisions)
          for (const critical of decisions) {
            const result = validatePolicyRules(
              rules({ defaults: { low, medium, high, critical } }),
            );
            const rank = (d: string) => decisions.indexOf(d as (typeof decisions)[number]);
            const monotonic =
              rank(low) <= rank(medium) &&
              rank(medium) <= rank(high) &&
              rank(high) <= rank(critical);
            expect(result.ok).toBe(monotonic);
            if (monotonic) accepted++;
          }
    expect(accepted).toBe(15); // non-decreasing sequences of length 4 over 3 values
  });

  it('names the tier that gets less strict', () => {
    const result = validatePolicyRules(
      rules({
        defaults: { low: 'allow', medium: 'deny', high: 'require_approval', critical: 'deny' },
      }),
    );
    expect(result).toEqual({
      ok: false,
      errors: [
        expect.stringContaining('defaults.high: require_approval is less strict than medium'),
      ],
    });
  });

  it.each([
    ['min_approvals 0', rules({ approval: { min_approvals: 0, allow_self_approval: true } })],
    ['min_approvals 1.5', rules({ approval: { min_approvals: 1.5, allow_self_approval: true } })],
    ['min_approvals 11', rules({ approval: { min_approvals: 11, allow_self_approval: true } })],
    ['an unknown decision', { ...rules(), defaults: { ...rules().defaults, low: 'maybe' } }],
    ['a missing tier', { ...rules(), defaults: { low: 'allow', medium: 'allow', high: 'deny' } }],
    ['an unknown tier', { ...rules(), defaults: { ...rules().defaults, extreme: 'deny' } }],
    ['an unknown top-level key', { ...rules(), extra: true }],
    [
      'a blank override name',
      rules({ overrides: [{ name: '  ', action: 'a.b', decision: 'deny' }] }),
    ],
    [
      'a long override name',
      rules({ overrides: [{ name: 'n'.repeat(101), action: 'a.b', decision: 'deny' }] }),
    ],
    [
      'a control character in a name',
      rules({ overrides: [{ name: 'bad\nname', action: 'a.b', decision: 'deny' }] }),
    ],
    ['an empty glob', rules({ overrides: [{ name: 'x', action: '', decision: 'deny' }] })],
    [
      'a long glob',
      rules({ overrides: [{ name: 'x', action: `${'a'.repeat(201)}`, decision: 'deny' }] }),
    ],
    ['a glob with spaces', rules({ overrides: [{ name: 'x', action: 'a b', decision: 'deny' }] })],
    [
      'a regex glob',
      rules({ overrides: [{ name: 'x', action: 'linux.(up|down)', decision: 'deny' }] }),
    ],
    [
      'too many overrides',
      rules({
        overrides: Array.from({ length: 201 }, (_, i) => ({
          name: `o${i}`,
          action: `a.${i}`,
          decision: 'deny' as const,
        })),
      }),
    ],
    [
      'duplicate override names',
      rules({
        overrides: [
          { name: 'Same', action: 'a.b', decision: 'deny' },
          { name: 'same', action: 'a.c', decision: 'allow' },
        ],
      }),
    ],
    ['a string', 'allow everything'],
    ['null', null],
  ])('rejects %s', (_, candidate) => {
    const result = validatePolicyRules(candidate);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.length).toBeGreaterThan(0);
  });
});

describe('evaluateRules', () => {
  const withOverrides = rules({
    overrides: [
      { name: 'uptime is fine', action: 'linux.uptime', decision: 'allow' },
      { name: 'no restarts', action: '*.restart', decision: 'deny' },
      { name: 'linux asks', action: 'LINUX.*', decision: 'require_approval' },
    ],
  });

  it('uses the tier default when no override matches', () => {
    expect(evaluateRules(withOverrides, 'docker.ps', 'low')).toEqual({
      decision: 'allow',
      matchedRule: 'default:low',
      reason: 'default',
    });
    expect(evaluateRules(withOverrides, 'docker.ps', 'critical').decision).toBe('deny');
    expect(evaluateRules(withOverrides, 'docker.ps', 'high').decision).toBe('require_approval');
  });

  it('lets the first matching override win, whatever the tier says', () => {
    expect(evaluateRules(withOverrides, 'linux.uptime', 'critical')).toEqual({
      decision: 'allow',
      matchedRule: 'override:uptime is fine',
      reason: 'override',
    });
    expect(evaluateRules(withOverrides, 'linux.restart', 'low').matchedRule).toBe(
      'override:no restarts',
    );
    expect(evaluateRules(withOverrides, 'Linux.Disk', 'low')).toMatchObject({
      decision: 'require_approval',
      matchedRule: 'override:linux asks',
    });
  });

  it('denies an unknown tier even when an override would allow', () => {
    expect(evaluateRules(withOverrides, 'linux.uptime', 'extreme')).toEqual({
      decision: 'deny',
      matchedRule: null,
      reason: 'unknown_risk',
    });
  });

  it('denies with unreadable rules (unknown decision, missing parts)', () => {
    const broken = { ...rules(), defaults: { ...rules().defaults, low: 'sure' } };
    expect(evaluateRules(broken, 'docker.ps', 'low')).toEqual({
      decision: 'deny',
      matchedRule: null,
      reason: 'invalid_rules',
    });
    expect(evaluateRules({}, 'docker.ps', 'low').decision).toBe('deny');
    expect(evaluateRules(null, 'docker.ps', 'low').decision).toBe('deny');
  });
});

describe('rulesWarnings', () => {
  it('reports overrides an earlier glob always beats, and overrides matching no catalog action', () => {
    const candidate = rules({
      overrides: [
        { name: 'all linux', action: 'linux.*', decision: 'require_approval' },
        { name: 'uptime', action: 'linux.uptime', decision: 'allow' },
        { name: 'docker', action: 'docker.*', decision: 'deny' },
        { name: 'typo', action: 'dokcer.ps', decision: 'deny' },
      ],
    });
    const warnings = rulesWarnings(candidate, ['linux.uptime', 'linux.disk', 'docker.ps']);
    expect(warnings.map((w) => [w.kind, w.override, w.shadowedBy])).toEqual([
      ['shadowed_override', 'uptime', 'all linux'],
      ['unmatched_override', 'typo', undefined],
    ]);
  });

  it('does not report unmatched overrides without a catalog', () => {
    const candidate = rules({
      overrides: [{ name: 'x', action: 'nothing.here', decision: 'deny' }],
    });
    expect(rulesWarnings(candidate, null)).toEqual([]);
  });
});
