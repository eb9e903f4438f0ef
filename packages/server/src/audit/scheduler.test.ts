import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { createJobs } from '../jobs/periodic.js';
import { insertAccount } from '../test-support/accounts.js';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import { listAuditCheckpoints } from './checkpoints.js';
import { parseAuditConfig } from './config.js';
import { auditJobs } from './scheduler.js';
import { writeEvents } from './test-support/fixtures.js';

let storage: TestStorage;
beforeAll(async () => {
  storage = await openTestStorage();
});
afterAll(() => storage.close());

describe('audit sweep configuration', () => {
  it('defaults to hourly checkpoints and a daily retention sweep', () => {
    expect(parseAuditConfig({})).toEqual({
      checkpointIntervalMs: 3_600_000,
      retentionIntervalMs: 86_400_000,
    });
    expect(
      parseAuditConfig({ AUDIT_CHECKPOINT_INTERVAL: '90s', AUDIT_RETENTION_INTERVAL: '1h30m' }),
    ).toEqual({ checkpointIntervalMs: 90_000, retentionIntervalMs: 5_400_000 });
  });

  it('refuses what is not a sensible duration', () => {
    for (const bad of ['soon', '0', '1ms', '-5s', '1000h']) {
      expect(() => parseAuditConfig({ AUDIT_RETENTION_INTERVAL: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe('the audit jobs', () => {
  it('sign checkpoints on their interval and stop cleanly', async () => {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 2);
    const signingKey = generateKeyPairSync('ed25519').privateKey;
    const logged: string[] = [];
    const log = (_fields: object, message: string) => {
      logged.push(message);
    };
    const sweeps = createJobs({ db: storage.db, log: { info: log, debug: log, error: log } });
    for (const job of auditJobs({
      signingKey,
      clock: systemClock,
      config: { checkpointIntervalMs: 20, retentionIntervalMs: 20 },
    })) {
      sweeps.start(job);
    }
    const checkpoints = async () =>
      (await listAuditCheckpoints({ db: storage.db, signingKey, accountId })).checkpoints;
    while ((await checkpoints()).length === 0) await new Promise((r) => setTimeout(r, 10));
    await writeEvents(storage.db, accountId, 1, 1, 3);
    while ((await checkpoints()).length < 2) await new Promise((r) => setTimeout(r, 10));
    await sweeps.stop();
    expect((await checkpoints()).map((c) => c.seq)).toEqual([2, 3]);
    expect(logged).toContain('audit retention sweep done');
    expect(logged.some((m) => m.endsWith('failed'))).toBe(false);
  });
});
