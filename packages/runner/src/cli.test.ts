import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from './test-support/cli.js';
import { writeRunnerHome, writeTestPack } from './test-support/packs.js';

let home: Awaited<ReturnType<typeof writeRunnerHome>>;
const packsDir = join(REPO, 'packs');
const cli = (...args: string[]) => runCli(['--config', home.configPath, ...args]);

async function journalLines(): Promise<string[]> {
  return (await readFile(home.journalPath, 'utf8')).split('\n').slice(0, -1);
}

describe('emisar CLI', () => {
  beforeAll(async () => {
    home = await writeRunnerHome({ packs: [packsDir] });
  });

  it('runs linux.uptime from the repo packs, prints its output and journals two chained lines', async () => {
    const run = await cli('action', 'run', 'linux.uptime', '--reason', 'check load before deploy');
    expect(run.stderr).toMatch(/^success, exit 0/m);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/load average/);
    const lines = (await journalLines()).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event_type)).toEqual(['execution_started', 'execution_completed']);
    expect(lines[0].action_id).toBe('linux.uptime');
    expect(lines[0].request.reason).toBe('check load before deploy');
    expect(lines[1].prev_hash).toMatch(/^[0-9a-f]{64}$/);
    const verify = await cli('audit', 'verify');
    expect(verify).toMatchObject({ code: 0 });
    expect(verify.stdout).toMatch(/OK \(2 lines/);
  });
});

describe('emisar CLI with the test kit', () => {
  beforeAll(async () => {
    const pack = await writeTestPack();
    home = await writeRunnerHome({ packs: [pack.root] });
  });

  describe('a journal of three runs: reading it, and verify after tampering', () => {
    let pristine: string;
    let pristineHead: string;

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) {
        const run = await cli(
          'action',
          'run',
          'testkit.echo',
          '--arg',
          `text=run ${i}`,
          '--reason',
          `tamper test run ${i}`,
        );
        expect(run.stdout).toBe(`[run ${i}]\n`);
      }
      pristine = await readFile(home.journalPath, 'utf8');
      pristineHead = await readFile(`${home.journalPath}.head`, 'utf8');
    });

    async function tampered(change: (lines: string[]) => void) {
      const lines = pristine.split('\n').slice(0, -1);
      change(lines);
      await writeFile(home.journalPath, `${lines.join('\n')}\n`);
      await writeFile(`${home.journalPath}.head`, pristineHead);
      const json = await cli('--json', 'audit', 'verify');
      const text = await cli('audit', 'verify');
      await writeFile(home.journalPath, pristine);
      return { json, text };
    }

    it('passes untouched', async () => {
      expect((await cli('audit', 'verify')).code).toBe(0);
    });

    const total = 6;
    for (let n = 1; n <= total; n++) {
      it(`fails naming the line when line ${n} of ${total} is edited`, async () => {
        const { json, text } = await tampered((lines) => {
          lines[n - 1] = lines[n - 1]!.replace('"time":"', '"time":"1');
        });
        expect(json.code).toBe(1);
        expect(text.code).toBe(1);
        const line = n === total ? n : n + 1;
        expect(JSON.parse(json.stdout).break.line).toBe(line);
        expect(text.stdout).toContain(`BROKEN at line ${line}`);
      });

      it(`fails naming the line when line ${n} of ${total} is deleted`, async () => {
        const { json } = await tampered((lines) => lines.splice(n - 1, 1));
        expect(json.code).toBe(1);
        expect(JSON.parse(json.stdout).break.line).toBe(n);
      });
    }

    it.each([
      [1, 2],
      [5, 6],
      [2, 5],
    ])('fails naming the line when lines %i and %i are swapped', async (a, b) => {
      const { json } = await tampered((lines) => {
        [lines[a - 1], lines[b - 1]] = [lines[b - 1]!, lines[a - 1]!];
      });
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).break.line).toBe(a);
    });

    it('reads the journal: events cat, grep, tail', async () => {
      const lines = (await readFile(home.journalPath, 'utf8')).trim().split('\n');
      expect((await cli('events', 'cat')).stdout.trim().split('\n')).toEqual(lines);
      const tail = await cli('events', 'tail', '-n', '2');
      expect(tail.stdout.trim().split('\n')).toEqual(lines.slice(-2));
      const grep = await cli('events', 'grep', 'run 1');
      expect(grep.code).toBe(0);
      expect(
        grep.stdout
          .trim()
          .split('\n')
          .every((l) => l.includes('run 1')),
      ).toBe(true);
      expect((await cli('events', 'grep', 'no such text anywhere')).code).toBe(1);
    });
  });

  it('lists and describes actions and packs', async () => {
    const list = JSON.parse((await cli('--json', 'action', 'list')).stdout);
    expect(list.actions.map((a: { id: string }) => a.id).sort()).toEqual([
      'testkit.cat',
      'testkit.echo',
      'testkit.sleep',
      'testkit.stepped',
      'testkit.tree',
    ]);
    const described = JSON.parse((await cli('action', 'describe', 'testkit.echo')).stdout);
    expect(described).toMatchObject({ id: 'testkit.echo', execution: { binary: 'printf' } });
    expect(described.pack_ref).toMatch(/^testkit@1\.0\.0\/sha256:/);
    expect((await cli('action', 'describe', 'testkit.nope')).code).toBe(1);
    const packs = JSON.parse((await cli('--json', 'pack', 'list')).stdout);
    expect(packs.packs.map((p: { id: string }) => p.id)).toEqual(['testkit']);
    const info = await cli('pack', 'info', 'testkit');
    expect(info.stdout).toMatch(/^testkit@1\.0\.0/);
  });

  it('exits 2 on usage errors and on --json where a command has none', async () => {
    expect((await cli('action', 'run', 'testkit.echo')).code).toBe(2);
    expect((await cli('nonsense')).code).toBe(2);
    expect((await cli('--json', 'connect')).code).toBe(2);
    expect((await runCli(['--config', '/nonexistent/config.yaml', 'state'])).code).toBe(2);
  });

  it('validates a pack and prints its hash', async () => {
    const pack = await writeTestPack();
    const run = await runCli(['pack', 'validate', pack.dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^pack testkit OK: 5 actions\nhash: sha256:[0-9a-f]{64}\n/);
  });

  it('prints version, state and doctor', async () => {
    expect((await cli('version')).stdout).toMatch(/^emisar \d+\.\d+\.\d+ \(protocol 1/);
    const state = JSON.parse((await cli('state')).stdout);
    expect(state.type).toBe('runner_state');
    expect(state.actions.map((a: { id: string }) => a.id)).toContain('testkit.echo');
    const doctor = await cli('--json', 'doctor');
    const checks = JSON.parse(doctor.stdout).checks as { check: string; level: string }[];
    expect(checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(['config', 'containment', 'setpriv', 'journal']),
    );
  });
});
