import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnDaemon } from './test-support/cli.js';
import { FakeControlPlane, type Frame } from './test-support/control-plane.js';
import { writeRunnerHome, writeTestPack } from './test-support/packs.js';

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
