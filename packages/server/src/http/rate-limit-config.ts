import { ConfigError } from '../core/config-error.js';

/**
 * Request budgets per minute (0 turns one off). Counted in the database, so
 * every node of a cluster spends the same budget.
 */
export interface RateLimitConfig {
  /** Runs created per credential (`RATE_LIMIT_RUNS_PER_MINUTE`, 120). */
  runsPerMinute: number;
  /** Other state-changing REST requests per credential (`RATE_LIMIT_WRITES_PER_MINUTE`, 600). */
  writesPerMinute: number;
  /** `POST /runner/register` per client address and per enrollment key (`RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE`, 60). */
  runnerRegisterPerMinute: number;
  /** `POST /runner/token/refresh` per client address and per runner token (`RATE_LIMIT_RUNNER_REFRESH_PER_MINUTE`, 30). */
  runnerRefreshPerMinute: number;
}

export interface RateLimitEnvironment {
  RATE_LIMIT_RUNS_PER_MINUTE?: string | undefined;
  RATE_LIMIT_WRITES_PER_MINUTE?: string | undefined;
  RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE?: string | undefined;
  RATE_LIMIT_RUNNER_REFRESH_PER_MINUTE?: string | undefined;
}

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  runsPerMinute: 120,
  writesPerMinute: 600,
  runnerRegisterPerMinute: 60,
  runnerRefreshPerMinute: 30,
};

const KNOBS: [keyof RateLimitConfig, keyof RateLimitEnvironment][] = [
  ['runsPerMinute', 'RATE_LIMIT_RUNS_PER_MINUTE'],
  ['writesPerMinute', 'RATE_LIMIT_WRITES_PER_MINUTE'],
  ['runnerRegisterPerMinute', 'RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE'],
  ['runnerRefreshPerMinute', 'RATE_LIMIT_RUNNER_REFRESH_PER_MINUTE'],
];
const MAX_PER_MINUTE = 1_000_000;

export function parseRateLimitConfig(env: RateLimitEnvironment): RateLimitConfig {
  const limits = { ...DEFAULT_RATE_LIMITS };
  for (const [field, name] of KNOBS) {
    const text = env[name]?.trim();
    if (!text) continue;
    const value = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
    if (!(value <= MAX_PER_MINUTE)) {
      throw new ConfigError(
        `${name} must be a whole number of requests per minute from 0 (off) to ${MAX_PER_MINUTE}`,
      );
    }
    limits[field] = value;
  }
  return limits;
}
