import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/cli.js';
import { writeRunnerHome } from './test-support/packs.js';

/** A pack with one harmless action of each of these risks (it only prints its risk). */
async function writeRiskPack(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'emisar-packs-'));
  const dir = join(root, 'riskkit');
  await mkdir(join(dir, 'actions'), { recursive: true });
  const risks = ['high', 'critical'];
  await writeFile(
    join(dir, 'pack.yaml'),
    `schema_version: 1
id: riskkit
name: Risk kit
version: 1.0.0
description: One harmless action per risk tier.
actions:
${risks.map((r) => `  - actions/${r}.yaml`).join('\n')}
`,
  );
  for (const risk of risks) {
    await writeFile(
      join(dir, `actions/${risk}.yaml`),
      `schema_version: 1
id: riskkit.${risk}
title: Prints ${risk}
kind: exec
risk: ${risk}
description: Prints its risk tier and does nothing else.
side_effects:
  - none
execution:
  command:
    binary: printf
    argv: ["ran ${risk}\\\\n"]
  timeout: 5s
output:
  parser: text
  max_stdout_bytes: 65536
  max_stderr_bytes: 65536
`,
    );
  }
  return root;
}

describe('emisar action run: safe defaults on the host', () => {
  let packs: string;
  beforeAll(async () => {
    packs = await writeRiskPack();
  });
  const reason = 'checking the host before the change window';

  it('with admission.max_risk unset, refuses a critical action as action_not_admitted naming the rule', async () => {
    const home = await writeRunnerHome({ packs: [packs] });
    const cli = (...args: string[]) => runCli(['--config', home.configPath, ...args]);
    const high = await cli('action', 'run', 'riskkit.high', '--reason', reason);
    expect(high).toMatchObject({ code: 0, stdout: 'ran high\n' });

    const critical = await cli('action', 'run', 'riskkit.critical', '--reason', reason);
    expect(critical.code).toBe(1);
    expect(critical.stdout).toBe('');
    expect(critical.stderr).toContain(
      'action_not_admitted: riskkit.critical is not admitted on this host: risk critical is above admission.max_risk (unset, so high',
    );
    expect(critical.stderr).not.toMatch(/unknown_action/);
    const json = JSON.parse(
      (await cli('--json', 'action', 'run', 'riskkit.critical', '--reason', reason)).stdout,
    );
    expect(json).toMatchObject({
      status: 'blocked_by_admission',
      error: 'action_not_admitted',
      message: expect.stringContaining('admission.max_risk'),
    });
    const criticalEvents = (await readFile(home.journalPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event_type: string; action_id: string })
      .filter((e) => e.action_id === 'riskkit.critical')
      .map((e) => e.event_type);
    expect(criticalEvents).toEqual(['action_blocked_by_admission', 'action_blocked_by_admission']);
  });

  it('runs a critical action once the host opts in with admission.max_risk: critical', async () => {
    const home = await writeRunnerHome({
      packs: [packs],
      extra: 'admission:\n  max_risk: critical\n',
    });
    const run = await runCli([
      '--config',
      home.configPath,
      ...['action', 'run', 'riskkit.critical', '--reason', reason],
    ]);
    expect(run).toMatchObject({ code: 0, stdout: 'ran critical\n' });
  });

  it('applies the API reason rule: at least 12 visible characters', async () => {
    const home = await writeRunnerHome({ packs: [packs] });
    const run = await runCli([
      '--config',
      home.configPath,
      ...['action', 'run', 'riskkit.high', '--reason', 'x'],
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('at least 12 visible characters');
  });
});
