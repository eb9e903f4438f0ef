import { describe, expect, it } from 'vitest';
import { RESERVED_SLUGS, slugFromName, slugProblem } from './slug.js';

describe('workspace slugs', () => {
  it('accepts 3–64 lowercase letters, digits and hyphens starting with a letter', () => {
    for (const ok of ['ops', 'a-1', `a${'b'.repeat(63)}`, 'team-42'])
      expect(slugProblem(ok)).toBeNull();
    for (const bad of [
      'ab',
      '1ops',
      '-ops',
      'Ops',
      'o_ps',
      'o ps',
      `a${'b'.repeat(64)}`,
      'ops.io',
      '',
    ]) {
      expect(slugProblem(bad), bad).toMatch(/3–64/);
    }
  });

  it('refuses reserved words', () => {
    expect(slugProblem('api')).toMatch(/reserved/);
    expect(slugProblem('admin')).toMatch(/reserved/);
    expect(RESERVED_SLUGS.has('sign-in')).toBe(true);
  });

  it('derives a valid slug from any name', () => {
    expect(slugFromName('Analytical Engines')).toBe('analytical-engines');
    expect(slugFromName('  Ünïcödé Ops!! ')).toBe('unicode-ops');
    expect(slugFromName('42')).toBe('workspace');
    expect(slugFromName('a')).toBe('ws-a');
    expect(slugProblem(slugFromName('API'))).toBeNull();
    expect(slugFromName('x'.repeat(200)).length).toBeLessThanOrEqual(64);
    const retry = slugFromName('Ops', 1);
    expect(retry).toMatch(/^ops-[0-9a-f]{6}$/);
    for (const name of ['42', '!!!', 'a', 'API', '日本語', 'x'.repeat(200)]) {
      expect(slugProblem(slugFromName(name)), name).toBeNull();
    }
  });
});
