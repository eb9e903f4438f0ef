import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_PACKS_DIR, repoPacksState } from '../fleet/test-support/fixtures.js';
import { newEnrollmentKey } from '../fleet/test-support/harness.js';
import { type RealRunner, startRealRunner } from '../fleet/test-support/runner.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import {
  type IdentityHarness,
  signUp,
  startIdentityHarness,
} from '../test-support/identity-app.js';

type Json = Record<string, unknown>;

async function eventually<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The whole path over real sockets: REST on a listening app, the real runner
 * daemon on the real gateway, the repo's packs trusted through the published
 * catalog file, a real command executed on this host.
 */
describe(`runs over the wire with the real runner (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: IdentityHarness;
  let owner: Browser;
  let runner: RealRunner;
  let catalogDir: string;
  let runnerId: string;
  const base = '/api/v1/accounts/wire-a';

  beforeAll(async () => {
    const state = await repoPacksState();
    catalogDir = await mkdtemp(join(tmpdir(), 'emisar-runs-catalog-'));
    const catalogFile = join(catalogDir, 'catalog.json');
    await writeFile(
      catalogFile,
      JSON.stringify(Object.entries(state.packs).map(([pack_id, p]) => ({ pack_id, ...p }))),
    );
    h = await startIdentityHarness({ catalogFile });
    owner = await signUp(h, 'owner@wire.test', 'Wire A');
    const account = await h.storage.db
      .selectFrom('accounts')
      .select('id')
      .where('slug', '=', 'wire-a')
      .executeTakeFirstOrThrow();
    const { key } = await newEnrollmentKey(h, account.id);
    runner = await startRealRunner({
      url: h.url,
      enrollmentKey: key,
      runnerId: 'wire-host',
      packs: [REPO_PACKS_DIR],
    });
    runnerId = await eventually(async () => {
      const row = await h.storage.db
        .selectFrom('runner_actions')
        .select('runner_id')
        .where('account_id', '=', account.id)
        .where('action_id', '=', 'linux.uptime')
        .executeTakeFirst();
      return row?.runner_id;
    });
  });
  afterAll(async () => {
    await runner?.stop();
    await h?.close();
    await rm(catalogDir, { recursive: true, force: true });
  });

  it('create → delivered → started → live output → success, with the audit trail', async () => {
    const created = await owner.request<Json>('POST', `${base}/runs`, {
      runner: runnerId,
      action_id: 'linux.uptime',
      args: {},
      reason: 'over the wire: how long has this host been up',
    });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    const done = await owner.request<Json>('GET', `${base}/runs/${id}?wait=30s`);
    expect(done.body).toMatchObject({
      status: 'success',
      exit_code: 0,
      output: { complete: true },
    });
    expect(String(done.body.executed_command)).toContain('uptime');
    const output = await owner.request<{ chunks: { data: string; stream: string }[] }>(
      'GET',
      `${base}/runs/${id}/output`,
    );
    expect(output.body.chunks.map((c) => c.data).join('')).toMatch(/load average/);
    const audit = await h.storage.db
      .selectFrom('audit_events')
      .select('event_type')
      .where('target_id', '=', id)
      .orderBy('seq')
      .execute();
    expect(audit.map((e) => e.event_type)).toEqual([
      'run.requested',
      'run.sent',
      'run.running',
      'run.success',
    ]);
    const row = await h.storage.db
      .selectFrom('runs')
      .select(['args_ciphertext', 'progress_chunks'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.args_ciphertext).toBeNull();
    expect(row.progress_chunks).toBeGreaterThan(0);
  });

  it('a run the runner refuses locally ends with the runner’s verdict', async () => {
    // The control plane accepted it lexically; the runner re-validates on the host.
    const created = await owner.request<Json>('POST', `${base}/runs`, {
      runner: runnerId,
      action_id: 'linux.tail_log',
      args: { file: '/var/log/emisar-runs-test-missing.log', lines: 5 },
      reason: 'over the wire: a log file that is not there',
    });
    expect(created.status).toBe(201);
    const done = await owner.request<Json>('GET', `${base}/runs/${created.body.id}?wait=30s`);
    expect(['failed', 'validation_failed']).toContain(done.body.status);
    expect(done.body.finished_at).not.toBeNull();
  });
});
