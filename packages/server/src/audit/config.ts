import { parseDuration } from '@emisar/packs';
import { ConfigError } from '../core/config-error.js';

export interface AuditConfig {
  /** How often the chain heads are signed (`AUDIT_CHECKPOINT_INTERVAL`, default 1h). */
  checkpointIntervalMs: number;
  /** How often expired audit events are deleted (`AUDIT_RETENTION_INTERVAL`, default 24h). */
  retentionIntervalMs: number;
}

export interface AuditEnvironment {
  AUDIT_CHECKPOINT_INTERVAL?: string | undefined;
  AUDIT_RETENTION_INTERVAL?: string | undefined;
}

const MIN_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 2 ** 31 - 1; // setInterval's limit (~24.8 days)

export function parseAuditConfig(env: AuditEnvironment): AuditConfig {
  return {
    checkpointIntervalMs: interval(
      env.AUDIT_CHECKPOINT_INTERVAL,
      'AUDIT_CHECKPOINT_INTERVAL',
      '1h',
    ),
    retentionIntervalMs: interval(env.AUDIT_RETENTION_INTERVAL, 'AUDIT_RETENTION_INTERVAL', '24h'),
  };
}

function interval(value: string | undefined, name: string, fallback: string): number {
  const ns = parseDuration(value ?? fallback);
  const ms = ns === undefined ? Number.NaN : Number(ns / 1_000_000n);
  if (!(ms >= MIN_INTERVAL_MS && ms <= MAX_INTERVAL_MS)) {
    throw new ConfigError(`${name} must be a duration from 10ms to 596h (such as 30s, 1h or 24h)`);
  }
  return ms;
}
