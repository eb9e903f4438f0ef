import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ServerConfig } from '../config.js';
import type { StorageTarget } from '../db/database.js';
import type { TimingConfig } from '../fleet/timing.js';
import { DEFAULT_RATE_LIMITS } from '../http/rate-limit-config.js';

/** Short timing knobs: sockets time out and work is swept within seconds. */
export const TEST_TIMING: TimingConfig = {
  heartbeatTimeoutMs: 3_000,
  runnerLeaseMs: 4_000,
  dispatchGraceMs: 2_000,
  sentDeadlineMs: 1_000,
  runDeadlineMs: 2_000,
  approvalTtlMs: 600_000,
  runnerTokenTtlMs: 90 * 86_400_000,
  sweepIntervalMs: 200,
};

/** A complete configuration for in-process tests, without touching the environment. */
export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const storage: StorageTarget = { kind: 'pglite', dataDir: undefined };
  return {
    port: 0,
    host: '127.0.0.1',
    baseUrl: 'http://localhost:8080',
    secureCookies: false,
    trustProxy: false,
    storage,
    dataDir: '/nonexistent',
    secretKey: randomBytes(32),
    signingKey: generateKeyPairSync('ed25519').privateKey,
    tls: undefined,
    logLevel: 'silent',
    audit: { checkpointIntervalMs: 3_600_000, retentionIntervalMs: 86_400_000 },
    mail: { transport: { kind: 'none' }, from: 'emisar <no-reply@localhost>', devMailbox: true },
    timing: TEST_TIMING,
    rateLimits: DEFAULT_RATE_LIMITS,
    catalogFile: undefined,
    runnerDownload: undefined,
    ...overrides,
  };
}
