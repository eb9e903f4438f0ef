import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CATALOG } from '../catalog/published.js';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { findRunnerForDispatch, runnerRef } from './queries.js';
import { type IngestDeps, ingestRunnerState } from './runner-state.js';
import { insertRunner, repoPacksState } from './test-support/fixtures.js';

describe(`runner_state fencing and the dispatch runner (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: TestStorage;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('writes nothing for a superseded connection and records a foreign group as an issue', async () => {
    const state = await repoPacksState();
    const deps: IngestDeps = { catalog: EMPTY_CATALOG, clock, bus: storage.bus };
    const accountId = await insertAccount(storage.db);
    const runner = await insertRunner(storage.db, accountId, { group: 'web' });
    const stale = { accountId, runnerId: runner.id, generation: 0 };
    expect(await ingestRunnerState(storage.db, deps, stale, state)).toEqual({
      status: 'superseded',
    });
    expect(
      await storage.db
        .selectFrom('runner_actions')
        .select('action_id')
        .where('runner_id', '=', runner.id)
        .execute(),
    ).toEqual([]);
    const current = { accountId, runnerId: runner.id, generation: 1 };
    expect(await ingestRunnerState(storage.db, deps, current, { ...state, group: 'db' })).toEqual({
      status: 'ingested',
      groupIgnored: true,
    });
    const row = await storage.db
      .selectFrom('runners')
      .select(['group_name', 'asserted_group'])
      .where('id', '=', runner.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ group_name: 'web', asserted_group: 'db' });
    const tooMany = { ...state, actions: Array.from({ length: 2001 }, () => state.actions[0]!) };
    expect(await ingestRunnerState(storage.db, deps, current, tooMany)).toEqual({
      status: 'too_large',
    });
  });

  it('finds the dispatch runner by id or ref within its account only', async () => {
    const accountId = await insertAccount(storage.db);
    const otherAccount = await insertAccount(storage.db);
    const runner = await insertRunner(storage.db, accountId, {
      name: 'web-1',
      externalId: 'web-1.example',
    });
    expect(runner.ref).toBe(runnerRef('web-1', 'web-1.example'));
    expect(runner.ref).toMatch(/^web-1~[0-9a-f]{32}$/);
    const expected = {
      id: runner.id,
      name: 'web-1',
      ref: runner.ref,
      group: 'default',
      disabled: false,
      deleted: false,
    };
    expect(await findRunnerForDispatch(storage.db, accountId, runner.id)).toEqual(expected);
    expect(await findRunnerForDispatch(storage.db, accountId, runner.ref)).toEqual(expected);
    expect(await findRunnerForDispatch(storage.db, otherAccount, runner.id)).toBeNull();
    expect(await findRunnerForDispatch(storage.db, otherAccount, runner.ref)).toBeNull();
    expect(await findRunnerForDispatch(storage.db, accountId, 'nope~0')).toBeNull();
    const now = new Date().toISOString();
    await storage.db
      .updateTable('runners')
      .set({ disabled_at: now })
      .where('id', '=', runner.id)
      .execute();
    expect(await findRunnerForDispatch(storage.db, accountId, runner.ref)).toMatchObject({
      disabled: true,
    });
    await storage.db
      .updateTable('runners')
      .set({ deleted_at: now })
      .where('id', '=', runner.id)
      .execute();
    expect(await findRunnerForDispatch(storage.db, accountId, runner.id)).toMatchObject({
      deleted: true,
    });
  });
});
