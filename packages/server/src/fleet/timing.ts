import { parseDuration } from '@emisar/packs';
import { CONNECTION_LEASE_MS, SERVER_HEARTBEAT_TIMEOUT_MS } from '@emisar/protocol';
import { ConfigError } from '../core/config-error.js';

/** The timing knobs of the fleet and dispatch (spec: Configuration), in milliseconds. */
export interface TimingConfig {
  /** A runner socket silent this long is closed (`HEARTBEAT_TIMEOUT`, 90s). */
  heartbeatTimeoutMs: number;
  /** A connection's lease on its runner, renewed on every heartbeat (`RUNNER_LEASE`, 120s). */
  runnerLeaseMs: number;
  /** A pending run not delivered within this errors as `runner_unreachable` (`DISPATCH_GRACE`, 120s). */
  dispatchGraceMs: number;
  /** A sent run with no `action_started` past this is redelivered or errors (`SENT_DEADLINE`, 30s). */
  sentDeadlineMs: number;
  /** Added to the action timeout: started, no result, runner gone (`RUN_DEADLINE`, 60s). */
  runDeadlineMs: number;
  /** How long an approval request stays open (`APPROVAL_TTL`, 24h). */
  approvalTtlMs: number;
  /** A runner token's life (`RUNNER_TOKEN_TTL`, 90d); refresh is due after two thirds of it. */
  runnerTokenTtlMs: number;
  /** How often the dispatch and approval sweeps tick (`SWEEP_INTERVAL`, 60s). */
  sweepIntervalMs: number;
}

export interface TimingEnvironment {
  HEARTBEAT_TIMEOUT?: string | undefined;
  RUNNER_LEASE?: string | undefined;
  DISPATCH_GRACE?: string | undefined;
  SENT_DEADLINE?: string | undefined;
  RUN_DEADLINE?: string | undefined;
  APPROVAL_TTL?: string | undefined;
  RUNNER_TOKEN_TTL?: string | undefined;
  SWEEP_INTERVAL?: string | undefined;
}

const KNOBS: [keyof TimingConfig, keyof TimingEnvironment, string][] = [
  ['heartbeatTimeoutMs', 'HEARTBEAT_TIMEOUT', `${SERVER_HEARTBEAT_TIMEOUT_MS / 1000}s`],
  ['runnerLeaseMs', 'RUNNER_LEASE', `${CONNECTION_LEASE_MS / 1000}s`],
  ['dispatchGraceMs', 'DISPATCH_GRACE', '120s'],
  ['sentDeadlineMs', 'SENT_DEADLINE', '30s'],
  ['runDeadlineMs', 'RUN_DEADLINE', '60s'],
  ['approvalTtlMs', 'APPROVAL_TTL', '24h'],
  ['runnerTokenTtlMs', 'RUNNER_TOKEN_TTL', '90d'],
  ['sweepIntervalMs', 'SWEEP_INTERVAL', '60s'],
];

const MIN_MS = 10;
// Timers take at most 2^31-1 ms; longer knobs (token TTL) are only ever added to dates.
const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMER_FREE: ReadonlySet<keyof TimingConfig> = new Set(['runnerTokenTtlMs', 'approvalTtlMs']);
const MAX_DATE_MS = 10 * 365 * 86_400_000;

/** Go-style durations (`90s`, `1m30s`, `24h`; `d` and `w` too), each from 10ms up. */
export function parseTimingConfig(env: TimingEnvironment): TimingConfig {
  const timing = {} as TimingConfig;
  for (const [field, name, fallback] of KNOBS) {
    const ns = parseDuration(env[name]?.trim() || fallback, true);
    const ms = ns === undefined ? Number.NaN : Number(ns / 1_000_000n);
    const max = TIMER_FREE.has(field) ? MAX_DATE_MS : MAX_TIMER_MS;
    if (!(ms >= MIN_MS && ms <= max)) {
      throw new ConfigError(
        `${name} must be a duration from 10ms to ${TIMER_FREE.has(field) ? '3650d' : '596h'} (such as ${fallback})`,
      );
    }
    timing[field] = ms;
  }
  if (timing.runnerLeaseMs < timing.heartbeatTimeoutMs) {
    throw new ConfigError('RUNNER_LEASE must be at least HEARTBEAT_TIMEOUT');
  }
  return timing;
}
