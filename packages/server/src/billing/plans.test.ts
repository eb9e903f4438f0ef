import { describe, expect, it } from 'vitest';
import { entitlementsOf, isPlan } from './plans.js';

describe('plans', () => {
  it('entitles each plan to its retention and runner limit', () => {
    expect(entitlementsOf('free')).toEqual({ runnersLimit: 3, retentionDays: 7 });
    expect(entitlementsOf('team')).toEqual({ runnersLimit: 100, retentionDays: 90 });
    expect(entitlementsOf('enterprise')).toEqual({ runnersLimit: null, retentionDays: 365 });
  });

  it('keeps data longest for an unknown plan', () => {
    expect(isPlan('platinum')).toBe(false);
    expect(entitlementsOf('platinum').retentionDays).toBe(365);
  });
});
