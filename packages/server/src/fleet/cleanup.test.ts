import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountQueries } from '../accounts/queries.js';
import { EMPTY_CATALOG } from '../catalog/published.js';
import { catalogQueries } from '../catalog/queries.js';
import { insertPackVersion } from '../catalog/test-support/fixtures.js';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { sweepFleetCleanup } from './cleanup.js';
import { ingestRunnerState } from './runner-state.js';
import { insertRunner, repoPacksState } from './test-support/fixtures.js';

const HOUR = 3_600_000;

describe(`fleet cleanup (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: TestStorage;
  const clock = new ManualClock(new Date());
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  it('deletes runners offline past the account retention and unseen, unadvertised pack versions', async () => {
    const { db } = storage;
    const accountId = await insertAccount(db);
    const untouched = await insertAccount(db);
    await db
      .updateTable('accounts')
      .set({
        settings: JSON.stringify({
          require_mfa: false,
          max_grant_lifetime_seconds: null,
          runner_inactive_retention_hours: 1,
          pack_unseen_retention_days: 1,
        }),
      })
      .where('id', '=', accountId)
      .execute();
    const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    const stale = await insertRunner(db, accountId);
    const recent = await insertRunner(db, accountId);
    const online = await insertRunner(db, accountId);
    const elsewhere = await insertRunner(db, untouched);
    const set = (
      id: string,
      values: { last_disconnected_at?: string; lease_expires_at?: string },
    ) => db.updateTable('runners').set(values).where('id', '=', id).execute();
    await set(stale.id, { last_disconnected_at: at(-2 * HOUR) });
    await set(recent.id, { last_disconnected_at: at(-HOUR / 2) });
    await set(online.id, { last_disconnected_at: at(-5 * HOUR), lease_expires_at: at(60_000) });
    await set(elsewhere.id, { last_disconnected_at: at(-50 * HOUR) });

    await ingestRunnerState(
      db,
      { catalog: EMPTY_CATALOG, clock, bus: storage.bus },
      { accountId, runnerId: online.id, generation: 1 },
      await repoPacksState(),
    );
    const unseen = await insertPackVersion(db, accountId);
    await db
      .updateTable('pack_versions')
      .set({ last_seen_at: at(-2 * 24 * HOUR) })
      .execute();

    expect(
      await sweepFleetCleanup(db, { clock, accounts: accountQueries, catalog: catalogQueries }),
    ).toEqual({
      runners: 1,
      packVersions: 1,
    });
    const live = await db
      .selectFrom('runners')
      .select('id')
      .where('deleted_at', 'is', null)
      .execute();
    expect(live.map((r) => r.id).sort()).toEqual([recent.id, online.id, elsewhere.id].sort());
    const versions = await db
      .selectFrom('pack_versions')
      .select(['id', 'pack_id'])
      .where('account_id', '=', accountId)
      .execute();
    expect(versions.map((v) => v.id)).not.toContain(unseen.versionId);
    expect(versions.map((v) => v.pack_id).sort()).toEqual(['diagnostics', 'linux']);
    const events = await db
      .selectFrom('audit_events')
      .select(['event_type', 'target_id', 'actor_kind'])
      .where('account_id', '=', accountId)
      .where('event_type', 'in', ['runner.deleted', 'pack_trust.deleted'])
      .orderBy('seq')
      .execute();
    expect(events).toEqual([
      { event_type: 'runner.deleted', target_id: stale.id, actor_kind: 'system' },
      { event_type: 'pack_trust.deleted', target_id: unseen.versionId, actor_kind: 'system' },
    ]);
    expect(
      await sweepFleetCleanup(db, { clock, accounts: accountQueries, catalog: catalogQueries }),
    ).toEqual({
      runners: 0,
      packVersions: 0,
    });
  });
});
