import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRunner } from '../fleet/test-support/fixtures.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { onPostgres, openTestStorage } from '../test-support/database.js';
import { appendRunEvents } from './run-events.js';
import { insertRun } from './test-support/fixtures.js';

describe(`run event payloads (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: Awaited<ReturnType<typeof openTestStorage>>;
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  it('stores output holding NUL bytes (PostgreSQL text refuses U+0000) with U+FFFD in their place', async () => {
    const accountId = (await seedWorkspace(storage.db)).account.id;
    const runner = await insertRunner(storage.db, accountId);
    const { id } = await insertRun(storage.db, randomBytes(32), { accountId, runnerId: runner.id });
    await storage.db.transaction().execute(async (trx) => {
      const run = await trx
        .selectFrom('runs')
        .select(['id', 'account_id', 'event_count', 'event_bytes', 'events_dropped'])
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const payload = 'bin\u0000ary \u001b[1mbold\u001b[0m\n';
      expect(
        await appendRunEvents(
          trx,
          run,
          [{ kind: 'progress', stream: 'stdout', runnerSeq: 1, payload }],
          new Date().toISOString(),
        ),
      ).toBe(1);
    });
    const stored = await storage.db
      .selectFrom('run_events')
      .select('payload')
      .where('run_id', '=', id)
      .executeTakeFirstOrThrow();
    // Only NUL is replaced: terminal escapes are the command's output.
    expect(stored.payload).toBe('bin\ufffdary \u001b[1mbold\u001b[0m\n');
  });
});
