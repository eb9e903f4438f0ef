import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ServerConfig } from '../config.js';
import type { StorageTarget } from '../db/database.js';

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
    ...overrides,
  };
}
