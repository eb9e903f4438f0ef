import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPack } from '@emisar/packs';
import { decodeFrame, encodeFrame, FRAME_MAX_BYTES } from '@emisar/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { GLASS_PACK } from '../../../packs/src/test-support/fixtures.js';
import { loadRunnerConfig } from '../config/config.js';
import { runCli } from '../test-support/cli.js';
import { writeRunnerHome } from '../test-support/packs.js';
import { loadRegistry } from './registry.js';
import { buildRunnerState, checkAvailability } from './state.js';

let hash: string;
beforeAll(async () => {
  hash = (await loadPack(GLASS_PACK)).hash;
});

async function stateWith(admission: string) {
  const dir = await mkdtemp(join(tmpdir(), 'emisar-state-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, `paths:\n  packs: [${JSON.stringify(GLASS_PACK)}]\n${admission}`, {
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
    const plain = await writeRunnerHome({ packs: [GLASS_PACK] });
    const refused = await runCli(['--config', plain.configPath, ...args, reason]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /action_not_admitted: glass\.run_script is not admitted on this host: refused at load/,
    );
    const opted = await writeRunnerHome({
      packs: [GLASS_PACK],
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
