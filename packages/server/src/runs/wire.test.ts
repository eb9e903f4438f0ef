import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnrollmentKey, register, registration } from '../fleet/test-support/enrollment.js';
import { REPO_PACKS_DIR, repoPacksState } from '../fleet/test-support/fixtures.js';
import { type RealRunner, startRealRunner } from '../fleet/test-support/runner.js';
import { TestRunnerSocket } from '../fleet/test-support/ws-client.js';
import { signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { resultFrame } from './test-support/fixtures.js';

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
  let h: TestApp;
  let owner: Browser;
  let runner: RealRunner;
  let catalogDir: string;
  let runnerId: string;
  let accountId: string;
  const base = '/api/v1/accounts/wire-a';

  beforeAll(async () => {
    const state = await repoPacksState();
    catalogDir = await mkdtemp(join(tmpdir(), 'emisar-runs-catalog-'));
    const catalogFile = join(catalogDir, 'catalog.json');
    await writeFile(
      catalogFile,
      JSON.stringify(Object.entries(state.packs).map(([pack_id, p]) => ({ pack_id, ...p }))),
    );
    h = await startTestApp({ config: { catalogFile } });
    ({ browser: owner, accountId } = await signUpOwner(h, 'owner@wire.test', 'Wire A'));
    const { key } = await newEnrollmentKey(h, accountId);
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
        .where('account_id', '=', accountId)
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

  it('dedups progress replayed on a new connection, acks the result once it is durable and a duplicate again', async () => {
    const { key } = await newEnrollmentKey(h, accountId);
    const { token } = (await register(h.url, key, registration('replay-host'))).body as {
      token: string;
    };
    const state = await repoPacksState();
    const first = await TestRunnerSocket.connect(h.url, token);
    first.send(state);
    const replayRunner = await eventually(async () => {
      const row = await h.storage.db
        .selectFrom('runners as r')
        .innerJoin('runner_actions as a', 'a.runner_id', 'r.id')
        .select('r.id')
        .where('r.external_id', '=', 'replay-host')
        .executeTakeFirst();
      return row?.id;
    });
    const created = await owner.request<Json>('POST', `${base}/runs`, {
      runner: replayRunner,
      action_id: 'linux.uptime',
      args: {},
      reason: 'replay: progress arrives twice across a reconnect',
    });
    const requestId = String(created.body.request_id);
    await first.waitFrame('run_action');
    const progress = (seq: number) => ({
      type: 'action_progress',
      request_id: requestId,
      seq,
      stream: 'stdout',
      data: `line ${seq}\n`,
    });
    first.send({ type: 'action_started', request_id: requestId });
    first.send(progress(1));
    first.send(progress(2));
    await eventually(async () => {
      const row = await h.storage.db
        .selectFrom('runs')
        .select('event_count')
        .where('request_id', '=', requestId)
        .executeTakeFirstOrThrow();
      return row.event_count >= 4 ? true : undefined;
    });

    // The runner reconnects and replays everything not yet acknowledged.
    const second = await TestRunnerSocket.connect(h.url, token);
    second.send(state);
    second.send({ type: 'action_started', request_id: requestId });
    for (const seq of [1, 2, 3]) second.send(progress(seq));
    const result = resultFrame(requestId, { progress_chunks: 3 });
    second.send(result);
    await second.waitFrame('ack_result');
    second.send(result);
    second.send({ ...result, request_id: 'req_not_a_run_of_this_runner' });
    await second.until(() => second.frames.filter((f) => f.type === 'ack_result').length >= 3);
    expect(second.frames.filter((f) => f.type === 'run_action')).toEqual([]);

    const output = await owner.request<{ chunks: { data: string }[] }>(
      'GET',
      `${base}/runs/${created.body.id}/output`,
    );
    expect(output.body.chunks.map((c) => c.data)).toEqual(['line 1\n', 'line 2\n', 'line 3\n']);
    const done = await owner.request<Json>('GET', `${base}/runs/${created.body.id}`);
    expect(done.body).toMatchObject({ status: 'success', output: { complete: true } });
    const audit = await h.storage.db
      .selectFrom('audit_events')
      .select('event_type')
      .where('target_id', '=', String(created.body.id))
      .execute();
    expect(audit.filter((e) => e.event_type === 'run.success')).toHaveLength(1);
    first.ws.terminate();
    second.ws.terminate();
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
