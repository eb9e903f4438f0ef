import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/config-error.js';
import { parseTimingConfig } from './timing.js';

describe('timing knobs', () => {
  it('defaults to the spec values', () => {
    expect(parseTimingConfig({})).toEqual({
      heartbeatTimeoutMs: 90_000,
      runnerLeaseMs: 120_000,
      dispatchGraceMs: 120_000,
      sentDeadlineMs: 30_000,
      runDeadlineMs: 60_000,
      approvalTtlMs: 86_400_000,
      runnerTokenTtlMs: 90 * 86_400_000,
      sweepIntervalMs: 60_000,
    });
  });

  it('reads Go durations, days included', () => {
    const timing = parseTimingConfig({
      HEARTBEAT_TIMEOUT: '1m30s',
      RUNNER_LEASE: '2m',
      SENT_DEADLINE: '250ms',
      RUNNER_TOKEN_TTL: '7d',
    });
    expect(timing).toMatchObject({
      heartbeatTimeoutMs: 90_000,
      runnerLeaseMs: 120_000,
      sentDeadlineMs: 250,
      runnerTokenTtlMs: 7 * 86_400_000,
    });
  });

  it.each([
    [{ SWEEP_INTERVAL: 'soon' }, /SWEEP_INTERVAL must be a duration/],
    [{ SWEEP_INTERVAL: '1ms' }, /SWEEP_INTERVAL must be a duration/],
    [{ HEARTBEAT_TIMEOUT: '1000h' }, /HEARTBEAT_TIMEOUT must be a duration/],
    [{ HEARTBEAT_TIMEOUT: '3m' }, /RUNNER_LEASE must be at least HEARTBEAT_TIMEOUT/],
  ])('refuses %j', (env, message) => {
    expect(() => parseTimingConfig(env)).toThrow(ConfigError);
    expect(() => parseTimingConfig(env)).toThrow(message);
  });
});
