import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionDefinition,
  actionDescriptor,
  descriptorDigest,
  discoverPacks,
  type LoadedPack,
  renderInvocation,
  validateArgs,
} from './index.js';
import { OUR_PACKS } from './test-support/fixtures.js';

const run = promisify(execFile);
let packs: LoadedPack[];

beforeAll(async () => {
  const found = await discoverPacks([OUR_PACKS]);
  expect(found.degraded).toEqual([]);
  packs = found.packs;
});

function action(id: string): ActionDefinition {
  const found = packs.flatMap((p) => p.actions).find((a) => a.id === id);
  if (!found) throw new Error(`no action ${id}`);
  return found;
}

async function execute(id: string, args: Record<string, unknown>) {
  const checked = validateArgs(action(id), args as never, { mode: 'host' });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const invocation = renderInvocation(action(id), checked.values);
  return run(invocation.file, invocation.argv, {
    cwd: invocation.cwd,
    env: { PATH: process.env.PATH ?? '' },
  });
}

describe('the packs we ship', () => {
  it('load without degradation, refuse nothing, and list the expected actions', () => {
    expect(packs.map((p) => p.id)).toEqual(['diagnostics', 'linux']);
    expect(packs.flatMap((p) => p.refusedActions)).toEqual([]);
    expect(packs.flatMap((p) => p.actions.map((a) => `${a.id}:${a.risk}`)).sort()).toEqual([
      'diagnostics.kill_process:high',
      'diagnostics.listening_sockets:low',
      'diagnostics.process_status:low',
      'diagnostics.top_processes:low',
      'linux.disk_usage:low',
      'linux.grep_log:medium',
      'linux.memory:low',
      'linux.os_release:low',
      'linux.reboot:critical',
      'linux.systemctl_restart:high',
      'linux.systemctl_status:medium',
      'linux.tail_log:medium',
      'linux.uptime:low',
    ]);
  });

  it('give every action examples that validate, render and describe', () => {
    for (const a of packs.flatMap((p) => p.actions)) {
      expect(a.examples.length, a.id).toBeGreaterThan(0);
      for (const example of a.examples) {
        const checked = validateArgs(a, example.args, { mode: 'lexical' });
        expect(checked.ok, `${a.id}: ${example.title}`).toBe(true);
        if (checked.ok)
          expect(renderInvocation(a, checked.values).argv.join(' ')).not.toContain('{{');
      }
      expect(descriptorDigest(actionDescriptor(a, { available: true }))).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('runs linux.uptime on this host', async () => {
    const { stdout } = await execute('linux.uptime', {});
    expect(stdout).toMatch(/load average/);
  });

  it('runs the other read-only actions on this host', async () => {
    expect((await execute('linux.memory', { unit: 'mebi' })).stdout).toMatch(/^Mem:/m);
    expect((await execute('linux.disk_usage', { paths: ['/', '/tmp'] })).stdout).toMatch(
      /Filesystem/,
    );
    expect((await execute('linux.os_release', {})).stdout).toMatch(/^ID=/m);
    const top = (await execute('diagnostics.top_processes', { sort_by: 'rss', limit: 3 })).stdout
      .trim()
      .split('\n');
    expect(top).toHaveLength(4);
    expect(top[0]).toMatch(/PID\s+PPID\s+USER/);
    expect((await execute('diagnostics.process_status', { pid: process.pid })).stdout).toContain(
      `Pid:\t${process.pid}`,
    );
    expect((await execute('diagnostics.listening_sockets', { protocol: 'tcp' })).stdout).toMatch(
      /State|LISTEN/,
    );
  });

  it('refuses paths outside /var/log for the log actions', () => {
    const checked = validateArgs(
      action('linux.tail_log'),
      { file: '/etc/shadow' },
      { mode: 'host' },
    );
    expect(checked).toEqual({
      ok: false,
      errors: [
        { arg: 'file', code: 'path_not_allowed', reason: 'is outside the allowed locations' },
      ],
    });
    const denied = validateArgs(
      action('linux.disk_usage'),
      { paths: ['/proc/self'] },
      { mode: 'lexical' },
    );
    expect(denied.ok).toBe(false);
  });

  it('signals a real process with diagnostics.kill_process', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('sleep', ['30']);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_, signal) => resolve(signal)),
    );
    await execute('diagnostics.kill_process', { pid: child.pid, signal: 'TERM' });
    expect(await exited).toBe('SIGTERM');
  });
});
