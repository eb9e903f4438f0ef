import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadRunnerConfig, type RunnerConfig } from '../config/config.js';
import { headPathOf } from '../journal/chain.js';
import type { Journal } from '../journal/journal.js';
import { verifyJournalFile } from '../journal/verify.js';
import { detectIsolation, engineDeps, openJournal } from '../runtime.js';
import { writeRunnerHome, writeTestPack } from '../test-support/packs.js';
import { type RunRequest, runAction } from './engine.js';
import { loadRegistry, type Registry } from './registry.js';

let config: RunnerConfig;
let registry: Registry;
let journal: Journal;
let home: Awaited<ReturnType<typeof writeRunnerHome>>;
let packDir: string;

async function setup(extra = '') {
  const pack = await writeTestPack();
  packDir = pack.dir;
  home = await writeRunnerHome({ packs: [pack.root], extra });
  config = await loadRunnerConfig({ explicitPath: home.configPath, env: {} });
  registry = await loadRegistry(config);
  journal = await openJournal(config);
}

const request = (
  actionId: string,
  args: RunRequest['args'],
  extra: Partial<RunRequest> = {},
): RunRequest => ({
  requestId: 'req_test',
  actionId,
  args,
  argsSha256: 'a'.repeat(64),
  reason: 'testing',
  opts: undefined,
  ...extra,
});

async function run(req: RunRequest, signal?: AbortSignal) {
  const output: string[] = [];
  const result = await runAction(
    engineDeps(config, journal, await detectIsolation()),
    registry,
    req,
    {
      signal,
      onProgress: (_stream, text) => output.push(text),
    },
  );
  return { result, output: output.join('') };
}

async function journalLines() {
  await journal.close();
  const lines = (await readFile(home.journalPath, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  journal = await openJournal(config);
  return lines;
}

describe('engine', () => {
  beforeEach(() => setup());

  it('passes `; rm -rf /` as one literal argv element and journals two chained lines', async () => {
    const { result, output } = await run(request('testkit.echo', { text: '; rm -rf /' }));
    expect(result).toMatchObject({ status: 'success', exit_code: 0, stdout_bytes: 13 });
    expect(output).toBe('[; rm -rf /]\n');
    const lines = await journalLines();
    expect(lines.map((l) => l.event_type)).toEqual(['execution_started', 'execution_completed']);
    expect(lines[1].execution.argv).toEqual(['[%s]\\n', '; rm -rf /']);
    expect(lines[1].event_id).toBe(result.event_id);
    expect(await verifyJournalFile(home.journalPath)).toMatchObject({ ok: true, lines: 2 });
  });

  it('masks a sensitive argument in output, argv, executed command and the journal', async () => {
    const secret = 'hunter2-very-secret';
    const { result, output } = await run(request('testkit.echo', { text: 'x', token: secret }));
    expect(output).not.toContain(secret);
    expect(result.executed_command).not.toContain(secret);
    const text = await readFile(home.journalPath, 'utf8');
    expect(text).not.toContain(secret);
    expect(result.redactions.some((r) => r.count > 0)).toBe(true);
  });

  it.each(['data', 'config', 'token'])(
    'refuses a path into the runner %s dir (protected_path)',
    async (which) => {
      const target =
        which === 'data'
          ? join(home.dataDir, 'dispatches.jsonl')
          : which === 'config'
            ? home.configPath
            : join(home.dataDir, 'token.json');
      await mkdir(home.dataDir, { recursive: true });
      await writeFile(target, 'secret', { flag: 'a' });
      const { result } = await run(request('testkit.cat', { file: target }));
      expect(result.status).toBe('validation_failed');
      const [line] = await journalLines();
      expect(line.event_type).toBe('validation_failed');
      expect(line.error).toMatch(/protected_path/);
      expect(line.request.args_redacted).toBeUndefined();
      expect(JSON.stringify(line)).not.toContain(target);
    },
  );

  it('clamps a timeout above the maximum to the action bound', async () => {
    const { result } = await run(
      request('testkit.sleep', { seconds: 0 }, { opts: { timeout: 3_600_000_000_000 } }),
    );
    expect(result.status).toBe('success');
    const [started] = await journalLines();
    expect(started.execution.timeout).toBe('3000ms');
  });

  it('refuses a script that changed after the pack was loaded', async () => {
    await appendFile(join(packDir, 'scripts/tree.sh'), '\necho tampered\n');
    const { result } = await run(request('testkit.tree', { mark: join(home.home, 'mark') }));
    expect(result.status).toBe('pack_hash_mismatch');
    const [line] = await journalLines();
    expect(line.event_type).toBe('dispatch_refused');
  });

  it('answers unknown_action and a blank, invisible or bidi-controlled reason without executing', async () => {
    expect((await run(request('testkit.nope', {}))).result.status).toBe('unknown_action');
    for (const reason of ['  ', '\u200b'.repeat(12), 'looks fine \u202egnp.exe']) {
      expect((await run(request('testkit.echo', { text: 'x' }, { reason }))).result.status).toBe(
        'validation_failed',
      );
    }
    const lines = await journalLines();
    expect(lines.map((l) => l.event_type)).toEqual([
      'dispatch_refused',
      'validation_failed',
      'validation_failed',
      'validation_failed',
    ]);
    expect(lines[2].error).toBe('reason has no visible character');
    expect(lines[3].error).toContain('U+202E');
  });

  it('holds a local run (no request id) to the control plane reason rule', async () => {
    const local = { requestId: undefined };
    const short = await run(
      request('testkit.echo', { text: 'x' }, { ...local, reason: 'testing' }),
    );
    expect(short.result.status).toBe('validation_failed');
    const enough = { ...local, reason: 'testing the local reason rule' };
    expect((await run(request('testkit.echo', { text: 'x' }, enough))).result.status).toBe(
      'success',
    );
    // A dispatched run was checked by the control plane: one visible character is the wire rule.
    expect((await run(request('testkit.echo', { text: 'x' }))).result.status).toBe('success');
  });

  it('does not execute when execution_started cannot be journaled', async () => {
    const dir = join(home.home, 'steps');
    await mkdir(dir);
    await writeFile(join(dir, 'go-1'), '');
    await mkdir(`${headPathOf(home.journalPath)}.tmp`);
    const { result } = await run(request('testkit.stepped', { dir, steps: 1 }));
    expect(result).toMatchObject({ status: 'error', local_audit_failed: true });
    await expect(readFile(join(dir, 'runs'), 'utf8')).rejects.toThrow();
  });

  it('cancels a run: SIGTERM, then SIGKILL after the action grace; journals action_cancelled', async () => {
    const controller = new AbortController();
    const mark = join(home.home, 'mark');
    const output: string[] = [];
    const result = await runAction(
      engineDeps(config, journal, await detectIsolation()),
      registry,
      request('testkit.tree', { mark }),
      {
        signal: controller.signal,
        onProgress: (_s, text) => {
          output.push(text);
          if (output.join('').includes('ready')) controller.abort();
        },
      },
    );
    expect(result.status).toBe('cancelled');
    expect((await readFile(mark, 'utf8')).split('\n').filter(Boolean).sort()).toEqual([
      'child-term',
      'grandchild-term',
    ]);
    expect((await journalLines()).map((l) => l.event_type)).toEqual([
      'execution_started',
      'action_cancelled',
    ]);
  });
});

describe('engine admission', () => {
  beforeEach(() => setup('admission:\n  deny: ["testkit.e*"]\n'));

  it('refuses a denied action with blocked_by_admission', async () => {
    const { result } = await run(request('testkit.echo', { text: 'x' }));
    expect(result.status).toBe('blocked_by_admission');
    expect((await journalLines()).map((l) => l.event_type)).toEqual([
      'action_blocked_by_admission',
    ]);
  });
});
