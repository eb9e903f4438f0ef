import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerHost } from './support/runner.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

/** A published-style pack: one fine action, one critical staging action that puts free text into sh -c. */
const PACK = {
  'pack.yaml':
    'schema_version: 1\nid: glass\nname: Glass\ndescription: One break-glass action.\nversion: 1.0.0\nactions: [actions/ok.yaml, actions/run_script.yaml]\n',
  'actions/ok.yaml': `schema_version: 1
id: glass.ok
title: Say ok
kind: exec
risk: low
description: Prints ok.
side_effects: [none]
execution:
  command: {binary: printf, argv: ["ok\\\\n"]}
  timeout: 5s
output: {parser: text, max_stdout_bytes: 1024, max_stderr_bytes: 1024}
`,
  'actions/run_script.yaml': `schema_version: 1
id: glass.run_script
title: Run a staging script
kind: exec
risk: critical
description: Runs free text as a shell script (break-glass).
side_effects: [anything]
args:
  - {name: script, type: string, required: true}
execution:
  command: {binary: sh, argv: ["-c", "{{ args.script }}"]}
  timeout: 5s
output: {parser: text, max_stdout_bytes: 1024, max_stderr_bytes: 1024}
`,
};

interface RunnerDetail {
  actions: { id: string; break_glass: boolean }[];
  refused_actions: { id: string; reason: string }[];
}

describe('break-glass actions: refused alone, or advertised on an explicit host opt-in', () => {
  let s: System;
  let root: string;
  const hosts: RunnerHost[] = [];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'emisar-e2e-glass-'));
    for (const [file, text] of Object.entries(PACK)) {
      await mkdir(join(root, 'glass', file, '..'), { recursive: true });
      await writeFile(join(root, 'glass', file), text);
    }
    s = await System.start({ noRunner: true, reusableEnrollmentKey: true });
  }, 240_000);
  afterAll(async () => {
    for (const host of hosts) await host.close();
    await s?.close();
    await rm(root, { recursive: true, force: true });
  });

  const detail = (name: string) =>
    eventually(async () => {
      const base = `/api/v1/accounts/${s.slug}/runners`;
      const shown = await s.api().request<{ runner?: RunnerDetail }>('GET', `${base}/${name}`);
      const runner = shown.body.runner;
      return runner?.actions.some((a) => a.id === 'glass.ok') ? runner : undefined;
    }, 100);

  it('without the opt-in the pack loads, the action is listed as refused, and a run for it is action_not_admitted', async () => {
    hosts.push(await s.startRunner('e2e-glass-plain', s.keys.enrollment, { packs: [root] }));
    const runner = await detail('e2e-glass-plain');
    expect(runner.actions.map((a) => a.id)).toEqual(['glass.ok']);
    expect(runner.refused_actions).toEqual([
      expect.objectContaining({
        id: 'glass.run_script',
        reason: expect.stringMatching(/^refused at load: argument script/),
      }),
    ]);
    const run = await s
      .api()
      .request<{ error: { id: string; message: string } }>(
        'POST',
        `/api/v1/accounts/${s.slug}/runs`,
        {
          runner: 'e2e-glass-plain',
          action_id: 'glass.run_script',
          args: { script: 'echo hi' },
          reason: 'e2e: the staging script, on a host without the opt-in',
        },
      );
    expect(run.status).toBe(409);
    expect(run.body.error).toMatchObject({
      id: 'action_not_admitted',
      message: expect.stringContaining('refused at load'),
    });
  }, 120_000);

  it('with admission.break_glass (and max_risk critical) the action is advertised marked break-glass', async () => {
    hosts.push(
      await s.startRunner('e2e-glass-opted', s.keys.enrollment, {
        packs: [root],
        admission: '  max_risk: critical\n  break_glass: [glass.run_script]\n',
      }),
    );
    const runner = await detail('e2e-glass-opted');
    expect(runner.actions.map((a) => [a.id, a.break_glass])).toEqual([
      ['glass.ok', false],
      ['glass.run_script', true],
    ]);
    expect(runner.refused_actions).toEqual([]);
  }, 120_000);
});
