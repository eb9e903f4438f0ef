import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { type IngestDeps, ingestRunnerState } from '../fleet/runner-state.js';
import { insertRunner, repoPacksState, withPackHash } from '../fleet/test-support/fixtures.js';
import { insertAccount } from '../test-support/accounts.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { resolveDispatchContract } from './dispatch-contract.js';
import { EMPTY_CATALOG, publishedCatalog } from './published.js';

const OTHER_HASH = `sha256:${'e'.repeat(64)}`;

describe(`dispatch contract and runner_state ingestion (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: TestStorage;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(async () => {
    await storage.close();
  });

  async function setup(options: { catalog?: 'repo' | 'none'; retiredBelow?: string } = {}) {
    const state = await repoPacksState();
    const linux = state.packs.linux!;
    const catalog =
      options.catalog === 'none'
        ? EMPTY_CATALOG
        : publishedCatalog(
            Object.entries(state.packs).map(([pack_id, p]) => ({
              pack_id,
              ...p,
              ...(options.retiredBelow && pack_id === 'linux'
                ? { retired_below: options.retiredBelow }
                : {}),
            })),
          );
    const deps: IngestDeps = { catalog, clock, bus: storage.bus };
    const accountId = await insertAccount(storage.db);
    return { state, linux, deps, accountId };
  }

  const auditTypes = async (accountId: string) =>
    (
      await storage.db
        .selectFrom('audit_events')
        .select('event_type')
        .where('account_id', '=', accountId)
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);

  it('trusts catalog-listed hashes on first sighting and resolves from the trusted manifest', async () => {
    const { state, linux, deps, accountId } = await setup();
    const runner = await insertRunner(storage.db, accountId);
    expect(
      await ingestRunnerState(
        storage.db,
        deps,
        { accountId, runnerId: runner.id, generation: 1 },
        state,
      ),
    ).toEqual({ status: 'ingested', groupIgnored: false });

    const contract = await resolveDispatchContract(storage.db, {
      accountId,
      runnerId: runner.id,
      actionId: 'linux.uptime',
    });
    const advertised = state.actions.find((a) => a.id === 'linux.uptime')!;
    expect(contract).toEqual({
      ok: true,
      packId: 'linux',
      version: linux.version,
      packRef: `linux@${linux.version}/${linux.hash}`,
      hash: linux.hash,
      descriptor: advertised,
      executableAvailable: true,
    });
    expect(
      await resolveDispatchContract(storage.db, {
        accountId,
        runnerId: runner.id,
        actionId: 'linux.uptime',
        packRef: `linux@${linux.version}/${linux.hash}`,
      }),
    ).toMatchObject({ ok: true });
    expect(
      await resolveDispatchContract(storage.db, {
        accountId,
        runnerId: runner.id,
        actionId: 'linux.uptime',
        packRef: `linux@${linux.version}/${OTHER_HASH}`,
      }),
    ).toEqual({ ok: false, reason: 'pack_untrusted' });
    expect(
      await resolveDispatchContract(storage.db, {
        accountId,
        runnerId: runner.id,
        actionId: 'linux.no_such_action',
      }),
    ).toEqual({ ok: false, reason: 'unknown_action' });
    const versions = await storage.db
      .selectFrom('pack_versions')
      .select(['pack_id', 'trust_state', 'trusted_hash'])
      .where('account_id', '=', accountId)
      .orderBy('pack_id')
      .execute();
    expect(versions.map((v) => v.trust_state)).toEqual(versions.map(() => 'trusted'));
    expect(await auditTypes(accountId)).toEqual(versions.map(() => 'pack_trust.auto_trusted'));
  });

  it('keeps a version pending when the catalog does not list it', async () => {
    const { state, deps, accountId } = await setup({ catalog: 'none' });
    const runner = await insertRunner(storage.db, accountId);
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: runner.id, generation: 1 },
      state,
    );
    expect(
      await resolveDispatchContract(storage.db, {
        accountId,
        runnerId: runner.id,
        actionId: 'linux.uptime',
      }),
    ).toEqual({ ok: false, reason: 'pack_untrusted' });
    const version = await storage.db
      .selectFrom('pack_versions')
      .select(['trust_state', 'trusted_hash'])
      .where('account_id', '=', accountId)
      .where('pack_id', '=', 'linux')
      .executeTakeFirstOrThrow();
    expect(version).toEqual({ trust_state: 'pending', trusted_hash: null });
  });

  it('drift blocks only the drifted runner, adds a candidate and is audited once', async () => {
    const { state, linux, deps, accountId } = await setup();
    const good = await insertRunner(storage.db, accountId);
    const drifted = await insertRunner(storage.db, accountId);
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: good.id, generation: 1 },
      state,
    );
    const tampered = withPackHash(state, 'linux', OTHER_HASH);
    for (let i = 0; i < 2; i++) {
      await ingestRunnerState(
        storage.db,
        deps,
        { accountId, runnerId: drifted.id, generation: 1 },
        tampered,
      );
    }
    const resolve = (runnerId: string) =>
      resolveDispatchContract(storage.db, { accountId, runnerId, actionId: 'linux.uptime' });
    expect(await resolve(drifted.id)).toEqual({ ok: false, reason: 'pack_untrusted' });
    expect(await resolve(good.id)).toMatchObject({ ok: true, hash: linux.hash });
    // The drifted runner's other packs still work.
    const other = state.actions.find((a) => a.pack_id !== 'linux')!;
    expect(
      await resolveDispatchContract(storage.db, {
        accountId,
        runnerId: drifted.id,
        actionId: other.id,
      }),
    ).toMatchObject({ ok: true });
    const candidates = await storage.db
      .selectFrom('pack_candidates as c')
      .innerJoin('pack_versions as v', 'v.id', 'c.pack_version_id')
      .select(['c.hash', 'c.state', 'c.first_runner_id', 'v.trust_state', 'v.trusted_hash'])
      .where('c.account_id', '=', accountId)
      .where('v.pack_id', '=', 'linux')
      .orderBy('c.state', 'desc')
      .execute();
    expect(candidates).toEqual([
      {
        hash: linux.hash,
        state: 'trusted',
        first_runner_id: good.id,
        trust_state: 'trusted',
        trusted_hash: linux.hash,
      },
      {
        hash: OTHER_HASH,
        state: 'pending',
        first_runner_id: drifted.id,
        trust_state: 'trusted',
        trusted_hash: linux.hash,
      },
    ]);
    expect(
      (await auditTypes(accountId)).filter((t) => t === 'pack_trust.drift_detected'),
    ).toHaveLength(1);
  });

  it('refuses a descriptor that differs from the trusted one, not one that only lacks its binary', async () => {
    const { state, deps, accountId } = await setup();
    const first = await insertRunner(storage.db, accountId);
    const changed = await insertRunner(storage.db, accountId);
    const missingBinary = await insertRunner(storage.db, accountId);
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: first.id, generation: 1 },
      state,
    );
    const edited = await repoPacksState((d) =>
      d.id === 'linux.uptime' ? { ...d, execution: { ...d.execution, argv: ['-s'] } } : d,
    );
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: changed.id, generation: 1 },
      edited,
    );
    const unavailable = await repoPacksState((d) =>
      d.id === 'linux.uptime'
        ? { ...d, primary_executable_available: false, missing_executable: d.execution.binary }
        : d,
    );
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: missingBinary.id, generation: 1 },
      unavailable,
    );
    const resolve = (runnerId: string) =>
      resolveDispatchContract(storage.db, { accountId, runnerId, actionId: 'linux.uptime' });
    expect(await resolve(changed.id)).toEqual({ ok: false, reason: 'action_contract_changed' });
    expect(await resolve(missingBinary.id)).toMatchObject({ ok: true, executableAvailable: false });
    expect(await resolve(first.id)).toMatchObject({ ok: true, executableAvailable: true });
  });

  it('refuses a retired version unless an admin overrides it', async () => {
    const { state, deps, accountId } = await setup({ retiredBelow: '99.0.0' });
    const runner = await insertRunner(storage.db, accountId);
    await ingestRunnerState(
      storage.db,
      deps,
      { accountId, runnerId: runner.id, generation: 1 },
      state,
    );
    const resolve = () =>
      resolveDispatchContract(storage.db, {
        accountId,
        runnerId: runner.id,
        actionId: 'linux.uptime',
      });
    expect(await resolve()).toEqual({ ok: false, reason: 'pack_retired' });
    await storage.db
      .updateTable('pack_versions')
      .set({ retirement_override: true })
      .where('account_id', '=', accountId)
      .where('pack_id', '=', 'linux')
      .execute();
    expect(await resolve()).toMatchObject({ ok: true });
  });
});
