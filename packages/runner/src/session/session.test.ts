import { appendFile, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRunnerConfig } from '../config/config.js';
import { type DaemonExit, daemonControls, runDaemon } from '../daemon.js';
import { FakeControlPlane, type Frame } from '../test-support/control-plane.js';
import { writeRunnerHome, writeTestPack } from '../test-support/packs.js';
import { eventually } from '../test-support/processes.js';

const KEY = `emkey-enroll-${'k'.repeat(43)}`;

let cp: FakeControlPlane;
let home: Awaited<ReturnType<typeof writeRunnerHome>>;
let pack: Awaited<ReturnType<typeof writeTestPack>>;
let daemon: Promise<DaemonExit> | undefined;
let logs: string[];

async function startRunner(env: NodeJS.ProcessEnv = { EMISAR_ENROLLMENT_KEY: KEY }) {
  const config = await loadRunnerConfig({ explicitPath: home.configPath, env: {} });
  logs = [];
  const states = cp.framesOf('runner_state').length;
  daemon = runDaemon({ config, env: { PATH: process.env.PATH, ...env }, log: (m) => logs.push(m) });
  daemon.catch(() => {});
  return cp.waitFrame('runner_state', undefined, states + 1);
}

beforeEach(async () => {
  cp = new FakeControlPlane();
  const url = await cp.start();
  pack = await writeTestPack();
  home = await writeRunnerHome({ packs: [pack.root], url });
});

afterEach(async () => {
  // A daemon still starting has no controls yet: wait for them (or for it to end).
  let ended = false;
  daemon?.finally(() => (ended = true)).catch(() => {});
  if (daemon) await eventually(() => ended || daemonControls !== undefined);
  await daemonControls?.stop();
  await daemon?.catch(() => undefined);
  daemon = undefined;
  await cp.stop();
});

function dispatchFrame(
  requestId: string,
  actionId: string,
  args: object,
  extra: object = {},
): Frame {
  const state = cp.framesOf('runner_state').at(-1)!;
  const hash = (state.packs as Record<string, { hash: string }>).testkit!.hash;
  return {
    type: 'run_action',
    request_id: requestId,
    operation_id: `op_${requestId}`,
    action_id: actionId,
    expected_pack_hash: hash,
    pack_ref: `testkit@1.0.0/${hash}`,
    args,
    reason: 'test',
    ...extra,
  };
}

const rawFrame = (frame: Frame) => JSON.stringify({ protocol_version: 1, ...frame });
const resultOf = (id: string, n = 1) => cp.waitFrame('action_result', id, n);
const dispatchLogEntry = async (id: string) =>
  (await readFile(join(home.dataDir, 'dispatches.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((e) => e.request_id === id);

describe('runner session', () => {
  it('registers, stores a 0600 token, advertises, heartbeats, runs, and records the ack', async () => {
    const state = await startRunner();
    expect(cp.registrations).toBe(1);
    const token = JSON.parse(await readFile(join(home.dataDir, 'token.json'), 'utf8'));
    expect(token).toMatchObject({
      token: cp.issuedToken,
      key_fp: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect((await stat(join(home.dataDir, 'token.json'))).mode & 0o777).toBe(0o600);
    expect((state.actions as { id: string }[]).map((a) => a.id)).toContain('testkit.echo');
    await cp.waitFrame('heartbeat');

    await cp.send(dispatchFrame('req_echo1', 'testkit.echo', { text: 'hello' }));
    await cp.waitFrame('action_started', 'req_echo1');
    expect(await resultOf('req_echo1')).toMatchObject({
      status: 'success',
      exit_code: 0,
      progress_chunks: 1,
      dropped_progress_chunks: 0,
    });
    expect(cp.framesOf('action_progress', 'req_echo1')).toMatchObject([
      { seq: 1, stream: 'stdout', data: '[hello]\n' },
    ]);
    await cp.send({ type: 'ack_result', request_id: 'req_echo1' });
    await eventually(async () => (await dispatchLogEntry('req_echo1'))?.state === 'acknowledged');
  });

  it('keeps every progress seq and the result across socket drops, replays the result until acked, runs once', async () => {
    await startRunner();
    const dir = join(home.home, 'steps');
    await mkdir(dir);
    const steps = 4;
    await cp.send(dispatchFrame('req_steps', 'testkit.stepped', { dir, steps }));
    for (let i = 1; i <= steps; i++) {
      await cp.until(() =>
        cp
          .framesOf('action_progress', 'req_steps')
          .some((f) => String(f.data).includes(`line-${i}\n`)),
      );
      const connections = cp.connections;
      cp.drop();
      await cp.until(() => cp.connections > connections && cp.socket);
      await writeFile(join(dir, `go-${i}`), '');
    }
    // Each new socket while the run executed got action_started again.
    expect(cp.framesOf('action_started', 'req_steps').length).toBeGreaterThanOrEqual(steps);
    const first = await resultOf('req_steps');
    expect(first).toMatchObject({ status: 'success', dropped_progress_chunks: 0 });
    const seqs = new Set(cp.framesOf('action_progress', 'req_steps').map((f) => f.seq as number));
    const count = first.progress_chunks as number;
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const text = [
      ...new Map(cp.framesOf('action_progress', 'req_steps').map((f) => [f.seq, f.data])).values(),
    ].join('');
    expect(text).toBe('line-1\nline-2\nline-3\nline-4\n');

    // Not acknowledged: a new socket replays progress, then the result.
    let connections = cp.connections;
    cp.drop();
    await cp.until(() => cp.connections > connections && cp.socket);
    await resultOf('req_steps', 2);
    await cp.send({ type: 'ack_result', request_id: 'req_steps' });
    await eventually(async () => (await dispatchLogEntry('req_steps'))?.state === 'acknowledged');
    const resultsBefore = cp.framesOf('action_result', 'req_steps').length;
    connections = cp.connections;
    cp.drop();
    await cp.until(() => cp.connections > connections && cp.socket);
    await cp.waitFrame('runner_state', undefined, cp.framesOf('runner_state').length);
    await cp.send({ type: 'heartbeat' });
    await cp.waitFrame('heartbeat', undefined, cp.framesOf('heartbeat').length + 1);
    expect(cp.framesOf('action_result', 'req_steps')).toHaveLength(resultsBefore);
    expect((await readFile(join(dir, 'runs'), 'utf8')).trim().split('\n')).toEqual(['ran']);
  });

  it('answers bad frames without executing anything', async () => {
    await startRunner();
    const good = dispatchFrame('req_dup', 'testkit.echo', { text: 'x' });
    // Duplicate keys inside args.
    await cp.send(rawFrame(good).replace('"args":{"text":"x"}', '"args":{"text":"x","text":"y"}'));
    expect(await resultOf('req_dup')).toMatchObject({
      status: 'failed',
      reason: 'dispatch_invalid',
    });
    // A case variant of a known field.
    await cp.send(
      rawFrame({
        ...dispatchFrame('req_case', 'testkit.echo', { text: 'x' }),
        Action_Id: 'testkit.cat',
      }),
    );
    expect(await resultOf('req_case')).toMatchObject({
      status: 'failed',
      reason: 'dispatch_invalid',
    });
    // 129 KiB frame.
    await cp.send(
      rawFrame(dispatchFrame('req_big', 'testkit.echo', { text: 'x'.repeat(129 * 1024) })),
    );
    expect(await resultOf('req_big')).toMatchObject({
      status: 'failed',
      reason: 'dispatch_invalid',
    });
    // A request id with bad characters: no readable id → error invalid_frame.
    const errors = cp.framesOf('error').length;
    await cp.send(rawFrame(dispatchFrame('req bad/id', 'testkit.echo', { text: 'x' })));
    await cp.waitFrame('error', undefined, errors + 1);
    expect(cp.framesOf('error').at(-1)).toMatchObject({ code: 'invalid_frame' });
    expect(cp.framesOf('error').at(-1)!.request_id).toBeUndefined();
    // A binary frame is an error too.
    (await cp.connected()).send(Buffer.from('{}'), { binary: true });
    await cp.waitFrame('error', undefined, errors + 2);
    expect(cp.framesOf('action_started')).toEqual([]);
    const journal = await readFile(home.journalPath, 'utf8').catch(() => '');
    expect(journal).not.toContain('execution_started');
  });

  it('passes `; rm -rf /` as one argv element, refuses protected paths, clamps the timeout, drops an in-flight copy', async () => {
    await startRunner();
    await cp.send(dispatchFrame('req_meta', 'testkit.echo', { text: '; rm -rf /' }));
    expect(await resultOf('req_meta')).toMatchObject({ status: 'success' });
    expect(
      cp
        .framesOf('action_progress', 'req_meta')
        .map((f) => f.data)
        .join(''),
    ).toBe('[; rm -rf /]\n');

    for (const [id, file] of [
      ['req_p1', join(home.dataDir, 'token.json')],
      ['req_p2', home.configPath],
      ['req_p3', join(home.dataDir, 'dispatches.jsonl')],
    ] as const) {
      await cp.send(dispatchFrame(id, 'testkit.cat', { file }));
      expect(await resultOf(id)).toMatchObject({ status: 'validation_failed', stdout_bytes: 0 });
    }
    const journal = await readFile(home.journalPath, 'utf8');
    expect(journal).toContain('protected_path');
    expect(journal).not.toContain(cp.issuedToken);

    await cp.send(
      dispatchFrame(
        'req_clamp',
        'testkit.sleep',
        { seconds: 0 },
        { opts: { timeout: 86_400_000_000_000 } },
      ),
    );
    expect(await resultOf('req_clamp')).toMatchObject({ status: 'success' });
    expect(
      (await readFile(home.journalPath, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find(
          (e) =>
            e.caller.control_plane_request_id === 'req_clamp' &&
            e.event_type === 'execution_started',
        ).execution.timeout,
    ).toBe('3000ms');

    const dir = join(home.home, 'steps');
    await mkdir(dir);
    const frame = dispatchFrame('req_twice', 'testkit.stepped', { dir, steps: 1 });
    await cp.send(frame);
    await cp.waitFrame('action_started', 'req_twice');
    await cp.send(frame);
    await writeFile(join(dir, 'go-1'), '');
    expect(await resultOf('req_twice')).toMatchObject({ status: 'success' });
    expect(cp.framesOf('action_started', 'req_twice')).toHaveLength(1);
    expect((await readFile(join(dir, 'runs'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('refuses a duplicate dispatch with different facts and replays an identical one', async () => {
    await startRunner();
    await cp.send(dispatchFrame('req_same', 'testkit.echo', { text: 'one' }));
    const first = await resultOf('req_same');
    await cp.send(dispatchFrame('req_same', 'testkit.echo', { text: 'two' }));
    expect(await resultOf('req_same', 2)).toMatchObject({
      status: 'failed',
      reason: 'dispatch_id_conflict',
    });
    await cp.send(dispatchFrame('req_same', 'testkit.echo', { text: 'one' }));
    expect(await resultOf('req_same', 3)).toEqual(first);
    expect(cp.framesOf('action_started', 'req_same')).toHaveLength(1);
  });

  it('refuses a ninth concurrent run with concurrency_cap_reached', async () => {
    await startRunner();
    const dir = join(home.home, 'steps');
    await mkdir(dir);
    for (let i = 1; i <= 8; i++)
      await cp.send(dispatchFrame(`req_c${i}`, 'testkit.stepped', { dir, steps: 1 }));
    await cp.until(() => cp.framesOf('action_started').length === 8);
    await cp.send(dispatchFrame('req_c9', 'testkit.echo', { text: 'x' }));
    const error = await cp.waitFrame('error', 'req_c9');
    expect(error).toMatchObject({ code: 'concurrency_cap_reached' });
    expect(cp.framesOf('action_started', 'req_c9')).toEqual([]);
    await writeFile(join(dir, 'go-1'), '');
    for (let i = 1; i <= 8; i++)
      expect(await resultOf(`req_c${i}`)).toMatchObject({ status: 'success' });
    const journal = await readFile(home.journalPath, 'utf8');
    expect(journal).toContain('"event_type":"dispatch_refused"');
  });

  it('refuses a dispatch after an action file changed on disk, and re-advertises', async () => {
    await startRunner();
    const before = cp.framesOf('runner_state').length;
    await appendFile(join(pack.dir, 'actions/echo.yaml'), '\n# edited\n');
    await cp.send(dispatchFrame('req_drift', 'testkit.echo', { text: 'x' }));
    expect(await resultOf('req_drift')).toMatchObject({ status: 'pack_hash_mismatch' });
    const state = await cp.waitFrame('runner_state', undefined, before + 1);
    const oldHash = (cp.framesOf('runner_state')[0]!.packs as Record<string, { hash: string }>)
      .testkit!.hash;
    expect((state.packs as Record<string, { hash: string }>).testkit!.hash).not.toBe(oldHash);
    expect(cp.framesOf('action_started', 'req_drift')).toEqual([]);
  });

  it('refuses a dispatch after a script changed on disk', async () => {
    await startRunner();
    await appendFile(join(pack.dir, 'scripts/tree.sh'), '\necho changed\n');
    await cp.send(dispatchFrame('req_script', 'testkit.tree', { mark: join(home.home, 'm') }));
    expect(await resultOf('req_script')).toMatchObject({ status: 'pack_hash_mismatch' });
    expect(cp.framesOf('action_started', 'req_script')).toEqual([]);
  });

  it('cancels before start and during a run', async () => {
    await startRunner();
    await cp.send({ type: 'cancel', request_id: 'req_early' });
    await cp.send(dispatchFrame('req_early', 'testkit.echo', { text: 'x' }));
    expect(await resultOf('req_early')).toMatchObject({
      status: 'cancelled',
      reason: 'cancelled_before_start',
    });

    const mark = join(home.home, 'mark');
    await cp.send(dispatchFrame('req_tree', 'testkit.tree', { mark }));
    await cp.until(() =>
      cp.framesOf('action_progress', 'req_tree').some((f) => String(f.data).includes('ready')),
    );
    await cp.send({ type: 'cancel', request_id: 'req_tree' });
    expect(await resultOf('req_tree')).toMatchObject({ status: 'cancelled' });
    expect((await readFile(mark, 'utf8')).split('\n').filter(Boolean).sort()).toEqual([
      'child-term',
      'grandchild-term',
    ]);
  });

  it('re-sends a result once after finalize_failed', async () => {
    await startRunner();
    await cp.send(dispatchFrame('req_fin', 'testkit.echo', { text: 'x' }));
    await resultOf('req_fin');
    await cp.send({ type: 'error', code: 'finalize_failed', request_id: 'req_fin', message: 'x' });
    await resultOf('req_fin', 2);
    await cp.send({ type: 'error', code: 'finalize_failed', request_id: 'req_fin', message: 'x' });
    await cp.send({ type: 'heartbeat' });
    const beats = cp.framesOf('heartbeat').length;
    await cp.waitFrame('heartbeat', undefined, beats + 1);
    expect(cp.framesOf('action_result', 'req_fin')).toHaveLength(2);
  });

  it('closes with 1002 on a protocol_version mismatch, then reconnects', async () => {
    await startRunner();
    await cp.send(JSON.stringify({ type: 'ack_result', protocol_version: 2, request_id: 'req_x' }));
    await cp.until(() => cp.closes.some((c) => c.code === 1002));
    await cp.until(() => cp.connections >= 2 && cp.socket);
  });

  it('exits and discards the token on 401; keeps it on 403', async () => {
    await startRunner();
    cp.socketStatus = 403;
    cp.drop();
    await eventually(() => logs.some((l) => l.includes('(403)')));
    expect(await stat(join(home.dataDir, 'token.json'))).toBeTruthy();
    cp.socketStatus = 401;
    const exit = await daemon!;
    expect(exit.code).toBe(1);
    await expect(stat(join(home.dataDir, 'token.json'))).rejects.toThrow();
  });

  it('stops for good on a terminal shutdown and refuses to start again', async () => {
    await startRunner();
    await cp.send({ type: 'shutdown', reason: 'runner_revoked' });
    expect((await daemon!).code).toBe(0);
    expect(
      JSON.parse(await readFile(join(home.dataDir, 'terminal_shutdown.json'), 'utf8')).reason,
    ).toBe('runner_revoked');
    const config = await loadRunnerConfig({ explicitPath: home.configPath, env: {} });
    await expect(runDaemon({ config, env: {}, log: () => {} })).rejects.toThrow(
      /terminal_shutdown|for good/,
    );
  });

  it('retries registration while the control plane is unreachable', async () => {
    cp.dropRegistrations = 2;
    await startRunner();
    expect(cp.registrations).toBe(1);
    expect(logs.filter((l) => l.includes('unreachable'))).toHaveLength(2);
  });

  it('waits and registers again when the control plane answers 429 rate_limited', async () => {
    cp.busyRegistrations = 1;
    await startRunner();
    expect(cp.registrations).toBe(1);
    expect(logs.filter((l) => l.includes('busy') && l.includes('rate_limited'))).toHaveLength(1);
  });

  it('refreshes a due token, keeps the old one when refresh fails, and re-registers on a new key', async () => {
    await mkdir(home.dataDir, { recursive: true });
    const tokenPath = join(home.dataDir, 'token.json');
    const { keyFingerprint } = await import('../cloud/token.js');
    const due = {
      token: cp.issuedToken,
      key_fp: keyFingerprint(KEY),
      refresh_after: '2000-01-01T00:00:00Z',
    };
    await writeFile(tokenPath, JSON.stringify(due), { mode: 0o600 });
    cp.refreshStatus = 503;
    await startRunner();
    expect(cp.refreshes).toBe(1);
    expect(JSON.parse(await readFile(tokenPath, 'utf8')).token).toBe(due.token);
    await daemonControls!.stop();
    await daemon;

    cp.refreshStatus = undefined;
    await startRunner();
    expect(cp.refreshes).toBe(2);
    expect(JSON.parse(await readFile(tokenPath, 'utf8')).token).toBe(cp.issuedToken);
    expect(cp.issuedToken).not.toBe(due.token);
    await daemonControls!.stop();
    await daemon;

    expect(cp.registrations).toBe(0);
    await startRunner({ EMISAR_ENROLLMENT_KEY: `emkey-enroll-${'n'.repeat(43)}` });
    expect(cp.registrations).toBe(1);
  });

  it('reloads packs atomically: runs in flight keep their snapshot, runner_state is re-sent, a broken pack keeps the old registry', async () => {
    await startRunner();
    const dir = join(home.home, 'steps');
    await mkdir(dir);
    await cp.send(dispatchFrame('req_inflight', 'testkit.stepped', { dir, steps: 1 }));
    await cp.waitFrame('action_started', 'req_inflight');
    // Remove the action the run uses, then reload.
    const manifest = join(pack.dir, 'pack.yaml');
    const original = await readFile(manifest, 'utf8');
    await writeFile(manifest, original.replace('  - actions/stepped.yaml\n', ''));
    const states = cp.framesOf('runner_state').length;
    await daemonControls!.reload();
    const state = await cp.waitFrame('runner_state', undefined, states + 1);
    expect((state.actions as { id: string }[]).map((a) => a.id)).not.toContain('testkit.stepped');
    await writeFile(join(dir, 'go-1'), '');
    expect(await resultOf('req_inflight')).toMatchObject({ status: 'success' });

    // A second, broken pack: the reload fails as a whole and the loaded registry stays.
    await mkdir(join(pack.root, 'broken'));
    await writeFile(join(pack.root, 'broken/pack.yaml'), 'schema_version: 1\nid: [broken\n');
    await expect(daemonControls!.reload()).rejects.toThrow(/reload refused/);
    expect(cp.framesOf('runner_state')).toHaveLength(states + 1);
    await cp.send(dispatchFrame('req_after', 'testkit.echo', { text: 'still here' }));
    expect(await resultOf('req_after')).toMatchObject({ status: 'success' });
  });

  it('refuses a token file that is group-readable, a symlink or malformed', async () => {
    await mkdir(home.dataDir, { recursive: true });
    const tokenPath = join(home.dataDir, 'token.json');
    const config = await loadRunnerConfig({ explicitPath: home.configPath, env: {} });
    for (const [write, message] of [
      [
        () =>
          writeFile(
            tokenPath,
            '{"token":"x","key_fp":"y","refresh_after":"2999-01-01T00:00:00Z"}',
            { mode: 0o640 },
          ),
        /readable by group/,
      ],
      [() => writeFile(tokenPath, 'not json', { mode: 0o600 }), /malformed/],
      [
        async () => {
          await writeFile(
            `${tokenPath}.real`,
            '{"token":"x","key_fp":"y","refresh_after":"2999-01-01T00:00:00Z"}',
            { mode: 0o600 },
          );
          await symlink(`${tokenPath}.real`, tokenPath);
        },
        /symlink/,
      ],
    ] as const) {
      await rm(tokenPath, { force: true });
      await write();
      await expect(
        runDaemon({ config, env: { EMISAR_ENROLLMENT_KEY: KEY }, log: () => {} }),
      ).rejects.toThrow(message);
    }
    expect(cp.registrations).toBe(0);
  });
});
