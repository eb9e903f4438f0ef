import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, isAlive } from '../test-support/processes.js';
import { type Containment, detectContainment } from './cgroup.js';
import { type ProcessSpec, runProcess } from './process.js';
import { detectSetpriv, type Setpriv } from './setpriv.js';

let dir: string;
let containment: Containment;
let setpriv: Setpriv | undefined;
const strays: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emisar-proc-'));
  containment = await detectContainment();
  setpriv = await detectSetpriv(process.env.PATH);
});
afterAll(() => {
  for (const pid of strays) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

function spec(script: string, overrides: Partial<ProcessSpec> = {}) {
  const out = { stdout: '', stderr: '' };
  const base: ProcessSpec = {
    file: '/bin/sh',
    args: ['-c', script],
    env: { PATH: '/usr/bin:/bin', MARK: join(dir, `mark-${Math.random()}`) },
    cwd: '/',
    timeoutMs: 60_000,
    graceMs: 60_000,
    drainMs: 60_000,
    containment: { mode: 'process-group', reason: 'test' },
    setpriv,
    onData: (stream, chunk) => {
      out[stream] += chunk.toString();
    },
    ...overrides,
  };
  return { spec: base, out };
}

// A child and a grandchild that both note SIGTERM and ignore it, the grandchild
// holding stdout/stderr open; `ready` once both traps are set.
const STUBBORN_TREE = `
trap 'echo child-term >> "$MARK"' TERM
sh -c 'trap "echo grandchild-term >> \\"$MARK\\"" TERM; echo "gc=$$"; while :; do sleep 0.02; done' &
while ! [ -s "$MARK.gc" ]; do sleep 0.01; echo x > "$MARK.gc"; done
echo ready
while :; do sleep 0.02; done
`;

const pidsFrom = (text: string) => [...text.matchAll(/gc=(\d+)/g)].map((m) => Number(m[1]));

describe('runProcess', () => {
  it('runs argv without a shell: metacharacters stay one literal element', async () => {
    const { spec: s, out } = spec('', { file: '/usr/bin/printf', args: ['[%s]\\n', '; rm -rf /'] });
    const outcome = await runProcess(s);
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false, killSteps: [] });
    expect(out.stdout).toBe('[; rm -rf /]\n');
  });

  it('gives the child exactly the environment it is handed', async () => {
    const { spec: s, out } = spec('', {
      file: '/usr/bin/env',
      args: [],
      env: { A: '1', PATH: '/bin' },
    });
    await runProcess(s);
    expect(out.stdout.split('\n').filter(Boolean).sort()).toEqual(['A=1', 'PATH=/bin']);
  });

  it('reports a start failure', async () => {
    const { spec: s } = spec('', { file: join(dir, 'missing'), setpriv: undefined });
    expect((await runProcess(s)).startError).toMatch(/ENOENT/);
  });

  it('on cancel sends SIGTERM to the group, then SIGKILL after the grace; nothing survives', async () => {
    const controller = new AbortController();
    const { spec: s, out } = spec(STUBBORN_TREE, {
      graceMs: 500,
      signal: controller.signal,
      onData: (stream, chunk) => {
        out[stream] += chunk.toString();
        if (out.stdout.includes('ready')) controller.abort();
      },
    });
    const outcome = await runProcess(s);
    expect(outcome.cancelled).toBe(true);
    expect(outcome.killSteps).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcome.exitSignal).toBe('SIGKILL');
    const marks = (await readFile(s.env.MARK!, 'utf8')).split('\n').filter(Boolean).sort();
    expect(marks).toEqual(['child-term', 'grandchild-term']);
    // SIGKILL is delivered; the kernel finishes tearing the processes down right after.
    for (const pid of [outcome.pid!, ...pidsFrom(out.stdout)])
      await eventually(() => !isAlive(pid));
  });

  it('on timeout does the same and marks the run timed out', async () => {
    const { spec: s, out } = spec(STUBBORN_TREE, { timeoutMs: 1500, graceMs: 100 });
    const outcome = await runProcess(s);
    expect(outcome).toMatchObject({
      timedOut: true,
      cancelled: false,
      killSteps: ['SIGTERM', 'SIGKILL'],
    });
    expect(out.stdout).toContain('ready');
    const marks = await readFile(s.env.MARK!, 'utf8');
    expect(marks).toContain('child-term');
    // SIGKILL is delivered; the kernel finishes tearing the processes down right after.
    for (const pid of [outcome.pid!, ...pidsFrom(out.stdout)])
      await eventually(() => !isAlive(pid));
  });

  it('kills what the program left in its group when it exits', async () => {
    const { spec: s, out } = spec('sh -c \'echo "gc=$$"; exec sleep 1000\' & sleep 0.1; echo done');
    const outcome = await runProcess(s);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.pipesAbandoned).toBe(false);
    for (const pid of pidsFrom(out.stdout)) await eventually(() => !isAlive(pid));
  });

  const SETSID_ESCAPE = `setsid sh -c 'echo "gc=$$"; exec sleep 1000' & sleep 0.2; echo done`;

  it('never hangs on an escaped (setsid) grandchild that keeps the pipes open', async () => {
    const { spec: s, out } = spec(SETSID_ESCAPE, { drainMs: 200 });
    const outcome = await runProcess(s);
    strays.push(...pidsFrom(out.stdout));
    expect(outcome.exitCode).toBe(0);
    // Process-group containment cannot reach it: the runner abandons the pipes instead.
    expect(outcome.pipesAbandoned).toBe(true);
  });

  it('with a delegated cgroup v2 subtree, kills a setsid grandchild too', async (context) => {
    if (containment.mode !== 'cgroup') {
      context.skip(`no writable cgroup v2 subtree here: ${containment.reason}`);
      return;
    }
    const { spec: s, out } = spec(SETSID_ESCAPE, { containment, drainMs: 60_000 });
    const outcome = await runProcess(s);
    const pids = pidsFrom(out.stdout);
    strays.push(...pids);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.pipesAbandoned).toBe(false);
    expect(pids).toHaveLength(1);
    await eventually(() => !isAlive(pids[0]!));
  });

  it('with a delegated cgroup v2 subtree, a cancel sends SIGTERM to a setsid grandchild too, and nothing survives', async (context) => {
    if (containment.mode !== 'cgroup') {
      context.skip(`no writable cgroup v2 subtree here: ${containment.reason}`);
      return;
    }
    const controller = new AbortController();
    const script = `trap 'until grep -q setsid-term "$MARK" 2>/dev/null; do sleep 0.01; done; exit 0' TERM
setsid sh -c 'trap "echo setsid-term >> \\"$MARK\\"" TERM; echo "gc=$$"; while :; do sleep 0.02; done' &
echo ready; while :; do sleep 0.02; done`;
    const { spec: s, out } = spec(script, {
      containment,
      signal: controller.signal,
      onData: (stream, chunk) => {
        out[stream] += chunk.toString();
        if (out.stdout.includes('ready') && out.stdout.includes('gc=')) controller.abort();
      },
    });
    const outcome = await runProcess(s);
    const pids = pidsFrom(out.stdout);
    strays.push(...pids);
    // The program exits once the escaped grandchild has handled SIGTERM; cgroup.kill takes the rest.
    expect(outcome.killSteps).toEqual(['SIGTERM']);
    expect(outcome.exitCode).toBe(0);
    expect(await readFile(s.env.MARK!, 'utf8')).toContain('setsid-term');
    await eventually(() => !isAlive(pids[0]!));
  });

  it('removes run cgroups a killed runner left behind', async (context) => {
    if (containment.mode !== 'cgroup') {
      context.skip(`no writable cgroup v2 subtree here: ${containment.reason}`);
      return;
    }
    const dead = spawnSync('/bin/true').pid!;
    const stale = join(containment.base, `emisar-run-${dead}-7`);
    await mkdir(stale);
    await detectContainment();
    await expect(stat(stale)).rejects.toThrow();
  });

  it('with setpriv, the child runs with no_new_privs', async (context) => {
    if (!setpriv) {
      context.skip('util-linux setpriv with --pdeathsig is not installed');
      return;
    }
    const { spec: s, out } = spec('grep NoNewPrivs /proc/self/status');
    await runProcess(s);
    expect(out.stdout).toMatch(/NoNewPrivs:\s+1/);
  });
});
