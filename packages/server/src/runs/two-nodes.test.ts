import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { ManualClock, systemClock } from '../core/clock.js';
import { createApiKey } from '../credentials/api-keys.js';
import { openStorage, type Storage } from '../db/database.js';
import { newEnrollmentKey } from '../fleet/test-support/enrollment.js';
import { REPO_PACKS_DIR, repoPacksState } from '../fleet/test-support/fixtures.js';
import { type RealRunner, startRealRunner } from '../fleet/test-support/runner.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { testConfig } from '../test-support/config.js';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/**
 * Two control-plane nodes on one PostgreSQL database: the runner holds a
 * socket on node A; the dispatch, the long-poll and the event stream go to
 * node B. Delivery and wake-ups cross nodes through LISTEN/NOTIFY.
 */
describe.runIf(onPostgres)('runs across two nodes (PostgreSQL)', () => {
  let storageA: TestStorage;
  let storageB: Storage;
  let nodeA: FastifyInstance;
  let nodeB: FastifyInstance;
  let urlA: string;
  let urlB: string;
  let runner: RealRunner;
  let catalogDir: string;
  let apiKey: string;
  let slug: string;
  let runnerId: string;

  beforeAll(async () => {
    const state = await repoPacksState();
    catalogDir = await mkdtemp(join(tmpdir(), 'emisar-two-nodes-'));
    const catalogFile = join(catalogDir, 'catalog.json');
    await writeFile(
      catalogFile,
      JSON.stringify(Object.entries(state.packs).map(([pack_id, p]) => ({ pack_id, ...p }))),
    );
    storageA = await openTestStorage();
    storageB = await openStorage(storageA.database.target);
    // One configuration: the nodes share the secret key (sealed arguments open on either).
    const config = testConfig({ catalogFile, storage: storageA.database.target });
    nodeA = await createApp({ config, storage: storageA, clock: systemClock });
    nodeB = await createApp({ config, storage: storageB, clock: systemClock });
    urlA = await listen(nodeA);
    urlB = await listen(nodeB);

    const workspace = await seedWorkspace(storageA.db);
    slug = workspace.account.slug;
    apiKey = (
      await createApiKey(
        storageA.db,
        {
          accountId: workspace.account.id,
          kind: 'mcp',
          membershipId: workspace.ownerMembershipId,
          name: 'two-nodes',
          createdBy: null,
        },
        systemClock,
      )
    ).secret;
    const { key } = await newEnrollmentKey(
      { db: storageA.db, clock: new ManualClock(new Date()) },
      workspace.account.id,
    );
    runner = await startRealRunner({
      url: urlA,
      enrollmentKey: key,
      runnerId: 'node-a-host',
      packs: [REPO_PACKS_DIR],
    });
    for (;;) {
      const row = await storageA.db
        .selectFrom('runner_actions')
        .select('runner_id')
        .where('account_id', '=', workspace.account.id)
        .where('action_id', '=', 'linux.uptime')
        .executeTakeFirst();
      if (row) {
        runnerId = row.runner_id;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(async () => {
    await runner?.stop();
    await nodeB?.close();
    await nodeA?.close();
    await storageB?.close();
    await storageA?.close();
    await rm(catalogDir, { recursive: true, force: true });
  });

  it('dispatches on node B to a runner connected to node A; B streams the output and sees the result', async () => {
    const auth = { authorization: `Bearer ${apiKey}` };
    const received: string[] = [];
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${urlB}/api/v1/accounts/${slug}/events`, { headers: auth }, resolve).on(
        'error',
        reject,
      );
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => received.push(chunk));

    const created = await fetch(`${urlB}/api/v1/accounts/${slug}/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        runner: runnerId,
        action_id: 'linux.uptime',
        args: {},
        reason: 'two nodes: dispatch on B, runner on A',
      }),
    });
    expect(created.status).toBe(201);
    const run = (await created.json()) as { id: string };
    const waited = await fetch(`${urlB}/api/v1/accounts/${slug}/runs/${run.id}?wait=30s`, {
      headers: auth,
    });
    const done = (await waited.json()) as { status: string; output: { complete: boolean } };
    expect(done).toMatchObject({ status: 'success', output: { complete: true } });
    // The output events were published on node A and reached the stream on node B.
    for (let i = 0; i < 100 && !received.join('').includes('event: run_output'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stream.destroy();
    const text = received.join('');
    expect(text).toContain(`event: run_output\nid: `);
    expect(text).toContain(`data: {"id":"${run.id}"}`);
  });
});
