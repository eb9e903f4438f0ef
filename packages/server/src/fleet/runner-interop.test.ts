import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRequestId } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCatalog } from '../catalog/build.js';
import { resolveDispatchContract } from '../catalog/dispatch-contract.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { accountWithKey } from './test-support/enrollment.js';
import { REPO_PACKS_DIR } from './test-support/fixtures.js';
import { RecordingRunHooks } from './test-support/run-hooks.js';
import { type RealRunner, startRealRunner } from './test-support/runner.js';

describe(`the real runner against the gateway (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  const hooks = new RecordingRunHooks();
  let runner: RealRunner | undefined;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emisar-catalog-'));
    const catalogFile = join(dir, 'catalog.json');
    const { entries } = await buildCatalog(REPO_PACKS_DIR);
    await writeFile(catalogFile, JSON.stringify(entries));
    h = await startTestApp({ config: { catalogFile }, runHooks: hooks });
  });
  afterAll(async () => {
    await runner?.stop();
    await h.close();
  });

  it('enrolls, advertises the repo packs (trusted from the built catalog), runs linux.uptime and is acked', async () => {
    const { accountId, key } = await accountWithKey(h);
    runner = await startRealRunner({
      url: h.url,
      enrollmentKey: key,
      runnerId: 'interop-1',
      packs: [REPO_PACKS_DIR],
    });
    const delivered = await hooks.until(() => hooks.calls.find((c) => c.hook === 'deliverPending'));
    const runnerRow = await h.storage.db
      .selectFrom('runners')
      .select(['id', 'external_id', 'group_name', 'version'])
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(runnerRow).toMatchObject({ external_id: 'interop-1', group_name: 'default' });
    expect(delivered).toMatchObject({ runnerId: runnerRow.id, generation: 1 });

    const versions = await h.storage.db
      .selectFrom('pack_versions')
      .select(['pack_id', 'trust_state'])
      .where('account_id', '=', accountId)
      .orderBy('pack_id')
      .execute();
    expect(versions).toEqual([
      { pack_id: 'diagnostics', trust_state: 'trusted' },
      { pack_id: 'linux', trust_state: 'trusted' },
    ]);
    const contract = await resolveDispatchContract(h.storage.db, {
      accountId,
      runnerId: runnerRow.id,
      actionId: 'linux.uptime',
    });
    if (!contract.ok) throw new Error(`not dispatchable: ${contract.reason}`);

    const requestId = newRequestId();
    const connection = hooks.connections.get(runnerRow.id)!;
    expect(
      connection.send({
        type: 'run_action',
        request_id: requestId,
        operation_id: `op_${requestId}`,
        action_id: 'linux.uptime',
        expected_pack_hash: contract.hash,
        pack_ref: contract.packRef,
        args: {},
        reason: 'fleet interop test',
      }),
    ).toBe(true);
    const result = await hooks.until(() =>
      hooks.calls.find((c) => c.hook === 'actionResult' && c.frame.request_id === requestId),
    );
    expect(result).toMatchObject({ generation: 1, frame: { status: 'success', exit_code: 0 } });
    expect(
      hooks.calls.some((c) => c.hook === 'actionStarted' && c.frame.request_id === requestId),
    ).toBe(true);
  });
});
