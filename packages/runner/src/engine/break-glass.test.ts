import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPack } from '@emisar/packs';
import { decodeFrame, encodeFrame, FRAME_MAX_BYTES } from '@emisar/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRunnerConfig } from '../config/config.js';
import { runCli } from '../test-support/cli.js';
import { writeRunnerHome } from '../test-support/packs.js';
import { loadRegistry } from './registry.js';
import { buildRunnerState, checkAvailability } from './state.js';

const action = (id: string, risk: string, args: string, command: string) => `schema_version: 1
id: glass.${id}
title: ${id}
kind: exec
risk: ${risk}
description: A break-glass fixture action.
side_effects: [none]
${args}
execution:
  command: ${command}
  timeout: 5s
output: {parser: text, max_stdout_bytes: 1024, max_stderr_bytes: 1024}
`;

const FREE_TEXT = 'args:\n  - {name: script, type: string, required: true}';
const ACTIONS: Record<string, string> = {
  'actions/ok.yaml': action('ok', 'low', 'args: []', '{binary: printf, argv: ["ok\\\\n"]}'),
  // Free text rendered into sh -c program text: the interpreter rule refuses it.
  'actions/run_script.yaml': action(
    'run_script',
    'critical',
    FREE_TEXT,
    '{binary: sh, argv: ["-c", "{{ args.script }}"]}',
  ),
  // The same fault at low risk: never break-glass.
  'actions/low_script.yaml': action(
    'low_script',
    'low',
    FREE_TEXT,
    '{binary: sh, argv: ["-c", "{{ args.script }}"]}',
  ),
};

let packs: string;
let hash: string;
beforeAll(async () => {
  packs = await mkdtemp(join(tmpdir(), 'emisar-glass-'));
  const dir = join(packs, 'glass');
  await mkdir(join(dir, 'actions'), { recursive: true });
  await writeFile(
    join(dir, 'pack.yaml'),
    `schema_version: 1\nid: glass\nname: Glass\ndescription: Break-glass fixture.\nversion: 1.0.0\nactions: [${Object.keys(ACTIONS).join(', ')}]\n`,
  );
  for (const [file, text] of Object.entries(ACTIONS)) await writeFile(join(dir, file), text);
  hash = (await loadPack(dir)).hash;
});

async function stateWith(admission: string) {
  const dir = await mkdtemp(join(tmpdir(), 'emisar-state-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, `paths:\n  packs: [${JSON.stringify(packs)}]\n${admission}`, {
    mode: 0o600,
  });
  const config = await loadRunnerConfig({ explicitPath: path, env: {} });
  const registry = await loadRegistry(config);
  const state = buildRunnerState(config, registry, await checkAvailability(registry, ''), '0.1.0');
  expect(decodeFrame(encodeFrame(state), { maxBytes: FRAME_MAX_BYTES }).kind).toBe('frame');
  return state;
}

describe('a pack with a rule-breaking action', () => {
  it('loads with its exact hash; only that action is refused, listed with its reason, never advertised', async () => {
    const state = await stateWith('');
    expect(state.packs.glass).toEqual({ version: '1.0.0', hash });
    expect(state.degraded_packs).toEqual([]);
    expect(state.actions.map((a) => a.id)).toEqual(['glass.ok']);
    expect(state.refused_actions).toEqual([
      {
        id: 'glass.run_script',
        pack_id: 'glass',
        reason: expect.stringMatching(/^refused at load: .*reaches sh .*as program text/),
      },
      {
        id: 'glass.low_script',
        pack_id: 'glass',
        reason: expect.stringMatching(/^refused at load/),
      },
    ]);
  });

  it('with the host opt-in (admission.break_glass, max_risk critical) advertises the critical action marked break-glass', async () => {
    const state = await stateWith(
      'admission:\n  max_risk: critical\n  break_glass: [glass.run_script, glass.low_script]\n',
    );
    expect(state.packs.glass).toEqual({ version: '1.0.0', hash });
    expect(state.actions.map((a) => [a.id, a.break_glass])).toEqual([
      ['glass.ok', undefined],
      ['glass.run_script', true],
    ]);
    // Only critical actions whose sole fault is the interpreter rule can be opted in.
    expect(state.refused_actions?.map((r) => r.id)).toEqual(['glass.low_script']);
  });

  it('the opt-in does not lift the risk ceiling: with max_risk unset it stays refused', async () => {
    const state = await stateWith('admission:\n  break_glass: [glass.run_script]\n');
    expect(state.actions.map((a) => a.id)).toEqual(['glass.ok']);
    expect(state.refused_actions).toContainEqual({
      id: 'glass.run_script',
      pack_id: 'glass',
      reason: expect.stringContaining('not admitted: risk critical is above admission.max_risk'),
    });
  });

  it('emisar action run: refused without the opt-in (action_not_admitted), runs with it', async () => {
    const reason = 'break-glass fixture: run the staging script';
    const args = ['action', 'run', 'glass.run_script', '--arg', 'script=echo glass', '--reason'];
    const plain = await writeRunnerHome({ packs: [packs] });
    const refused = await runCli(['--config', plain.configPath, ...args, reason]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /action_not_admitted: glass\.run_script is not admitted on this host: refused at load/,
    );
    const opted = await writeRunnerHome({
      packs: [packs],
      extra: 'admission:\n  max_risk: critical\n  break_glass: [glass.run_script]\n',
    });
    const ran = await runCli(['--config', opted.configPath, ...args, reason]);
    expect(ran).toMatchObject({ code: 0, stdout: 'glass\n' });
  });

  it('refuses a break_glass entry that is not an action id', async () => {
    await expect(stateWith('admission:\n  break_glass: ["glass.*"]\n')).rejects.toThrow(
      /admission.break_glass/,
    );
  });
});
