import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDaemon } from './test-support/cli.js';
import { FakeControlPlane, type Frame } from './test-support/control-plane.js';
import { writeRunnerHome, writeTestPack } from './test-support/packs.js';
import { eventually, isAlive } from './test-support/processes.js';

const KEY = `emkey-enroll-${'k'.repeat(43)}`;
const children: ReturnType<typeof spawnDaemon>[] = [];
let cp: FakeControlPlane | undefined;

afterEach(async () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  await cp?.stop();
});

describe('a runner killed mid-run (real process)', () => {
  it('reports failed/execution_outcome_unknown after restart and never runs it again', async () => {
    cp = new FakeControlPlane();
    const url = await cp.start();
    const pack = await writeTestPack();
    const home = await writeRunnerHome({ packs: [pack.root], url });
    const env = { EMISAR_ENROLLMENT_KEY: KEY };

    const first = spawnDaemon(home.configPath, env);
    children.push(first);
    const state = await cp.waitFrame('runner_state');
    const hash = (state.packs as Record<string, { hash: string }>).testkit!.hash;
    const dir = join(home.home, 'steps');
    await mkdir(dir);
    const dispatch: Frame = {
      type: 'run_action',
      request_id: 'req_crash',
      operation_id: 'op_crash',
      action_id: 'testkit.stepped',
      expected_pack_hash: hash,
      pack_ref: `testkit@1.0.0/${hash}`,
      args: { dir, steps: 1 },
      reason: 'crash test',
    };
    await cp.send(dispatch);
    await cp.until(() => cp!.framesOf('action_progress', 'req_crash').length > 0);
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;

    const second = spawnDaemon(home.configPath, env);
    children.push(second);
    const result = await cp.waitFrame('action_result', 'req_crash');
    expect(result).toMatchObject({
      status: 'failed',
      reason: 'execution_outcome_unknown',
      exit_code: null,
    });

    // The control plane redelivers the same dispatch: the recorded result comes back, nothing runs.
    const started = cp.framesOf('action_started', 'req_crash').length;
    await cp.send(dispatch);
    expect(await cp.waitFrame('action_result', 'req_crash', 2)).toMatchObject({
      reason: 'execution_outcome_unknown',
    });
    expect(cp.framesOf('action_started', 'req_crash')).toHaveLength(started);
    await expect(readFile(join(dir, 'runs'), 'utf8')).rejects.toThrow();
    const journal = await readFile(home.journalPath, 'utf8');
    expect(journal).toContain('execution_outcome_unknown');
    expect(cp.registrations).toBe(1);
  });
});

describe('the daemon under signals (real process)', () => {
  async function started() {
    cp = new FakeControlPlane();
    const url = await cp.start();
    const pack = await writeTestPack();
    const home = await writeRunnerHome({ packs: [pack.root], url });
    const daemon = spawnDaemon(home.configPath, { EMISAR_ENROLLMENT_KEY: KEY });
    children.push(daemon);
    const state = await cp.waitFrame('runner_state');
    const hash = (state.packs as Record<string, { hash: string }>).testkit!.hash;
    return { home, pack, daemon, hash };
  }

  it('on SIGTERM cancels every run, stores and sends the results, then exits 0', async () => {
    const { home, daemon, hash } = await started();
    const mark = join(home.home, 'mark');
    await cp!.send({
      type: 'run_action',
      request_id: 'req_term',
      operation_id: 'op_term',
      action_id: 'testkit.tree',
      expected_pack_hash: hash,
      pack_ref: `testkit@1.0.0/${hash}`,
      args: { mark },
      reason: 'sigterm test',
    });
    await cp!.until(() =>
      cp!.framesOf('action_progress', 'req_term').some((f) => String(f.data).includes('ready')),
    );
    const gcPid = Number(
      /gc=(\d+)/.exec(
        cp!
          .framesOf('action_progress', 'req_term')
          .map((f) => f.data)
          .join(''),
      )![1],
    );
    const exited = new Promise<number | null>((resolve) => daemon.child.once('exit', resolve));
    daemon.child.kill('SIGTERM');
    expect(await cp!.waitFrame('action_result', 'req_term')).toMatchObject({ status: 'cancelled' });
    expect(await exited).toBe(0);
    const entry = (await readFile(join(home.dataDir, 'dispatches.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.request_id === 'req_term');
    expect(entry).toMatchObject({ state: 'completed', result: { status: 'cancelled' } });
    await eventually(() => !isAlive(gcPid));
  });

  it('on SIGHUP reloads packs and re-sends runner_state', async () => {
    const { pack, daemon, hash } = await started();
    await appendFile(join(pack.dir, 'actions/echo.yaml'), '\n# changed\n');
    daemon.child.kill('SIGHUP');
    const state = await cp!.waitFrame('runner_state', undefined, 2);
    expect((state.packs as Record<string, { hash: string }>).testkit!.hash).not.toBe(hash);
    expect(daemon.child.exitCode).toBeNull();
  });
});
