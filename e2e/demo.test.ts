import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../packages/runner/src/test-support/cli.js';
import { isAlive } from '../packages/runner/src/test-support/processes.js';
import { freePort, onPostgres } from './support/control-plane.js';
import { eventually } from './support/wait.js';

const START = join(REPO, 'scripts/start.js');

/** `node scripts/start.js` in `cwd`, its output collected. */
function startDemo(cwd: string, port: number) {
  const child = spawn(process.execPath, [START], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function stopDemo(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  return ((await exited) as [number | null])[0];
}

/** The pids of the server and runner children (from /proc: children of `pid`). */
async function childPids(pid: number): Promise<number[]> {
  const text = await new Promise<string>((resolve) =>
    execFile('ps', ['-o', 'pid=', '--ppid', String(pid)], (_e, out) => resolve(out)),
  );
  return text.split('\n').filter(Boolean).map(Number);
}

// The demo is PGlite-only by design (zero setup); it runs once, not per backend.
describe.skipIf(onPostgres)('npm start: the demo', () => {
  let cwd: string;
  const running: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of running) await stopDemo(child);
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('seeds a workspace, connects a runner, prints a link and a curl that runs linux.uptime; restarts reuse it', async () => {
    cwd = await mkdtemp(join(tmpdir(), 'emisar-demo-'));
    const port = await freePort();
    const first = startDemo(cwd, port);
    running.push(first.child);
    await eventually(
      () => /Ctrl-C stops both/.test(first.output()) || first.child.exitCode !== null,
      100,
    );
    const out = first.output();
    expect(out, out).toMatch(/first start: creating the workspace/);
    expect(out).toMatch(/runner \S+ is online/);
    expect(out).toMatch(new RegExp(`http://localhost:${port}/sign_in/bootstrap#embs-`));
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    const curl = /^ {2}(RUN=\$\(curl .*)$/m.exec(out)?.[1];
    expect(curl, out).toBeDefined();
    const result = await new Promise<string>((resolve, reject) =>
      execFile('sh', ['-c', curl!], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(JSON.parse(result)).toMatchObject({
      action_id: 'linux.uptime',
      status: 'success',
    });

    const runnerHome = join(cwd, '.emisar/runner');
    expect((await stat(join(runnerHome, 'config.yaml'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(runnerHome, 'data'))).mode & 0o777).toBe(0o750);
    expect((await stat(join(cwd, '.emisar/demo.json'))).mode & 0o777).toBe(0o600);

    // SIGTERM stops both children, then the script exits 0.
    const children = await childPids(first.child.pid!);
    expect(children).toHaveLength(2);
    expect(await stopDemo(first.child)).toBe(0);
    await eventually(() => children.every((pid) => !isAlive(pid)));

    const second = startDemo(cwd, port);
    running.push(second.child);
    await eventually(
      () => /Ctrl-C stops both/.test(second.output()) || second.child.exitCode !== null,
      100,
    );
    const again = second.output();
    expect(again, again).not.toMatch(/first start/);
    expect(again).toMatch(/runner \S+ is online/);
    // Same workspace and key as before.
    expect(/workspace "([^"]+)"/.exec(again)?.[1]).toBe(/workspace "([^"]+)"/.exec(out)?.[1]);
    const rerun = /^ {2}(RUN=\$\(curl .*)$/m.exec(again)?.[1];
    const second_result = await new Promise<string>((resolve, reject) =>
      execFile('sh', ['-c', rerun!], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(JSON.parse(second_result)).toMatchObject({ status: 'success' });
    expect(await stopDemo(second.child)).toBe(0);
  }, 300_000);
});
