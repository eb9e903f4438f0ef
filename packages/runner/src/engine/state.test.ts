import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFrame, encodeFrame, FRAME_MAX_BYTES } from '@emisar/protocol';
import { describe, expect, it } from 'vitest';
import {
  REFERENCE_PACKS as REFERENCE,
  withoutReferencePacks,
} from '../../../packs/src/test-support/fixtures.js';
import { loadRunnerConfig } from '../config/config.js';
import { loadRegistry } from './registry.js';
import { buildRunnerState, checkAvailability } from './state.js';

async function configFor(packs: string, extra = '') {
  const dir = await mkdtemp(join(tmpdir(), 'emisar-state-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, `paths:\n  packs: [${JSON.stringify(packs)}]\n${extra}`, { mode: 0o600 });
  return loadRunnerConfig({ explicitPath: path, env: {} });
}

describe.skipIf(withoutReferencePacks())('runner_state', () => {
  it('advertises the five reference packs as a frame both ends accept', async () => {
    const config = await configFor(REFERENCE);
    const registry = await loadRegistry(config);
    expect(registry.degraded).toEqual([]);
    const state = buildRunnerState(
      config,
      registry,
      await checkAvailability(registry, ''),
      '0.1.0',
    );
    expect(
      Object.entries(state.packs)
        .map(([id, p]) => `${id}@${p.version}/${p.hash}`)
        .sort(),
    ).toEqual([
      'debugging@0.2.17/sha256:cfc2f6aa83108c16bb2256f79dd01cbd03c068c686f5d6ca8749882084b19775',
      'linux-core@0.4.1/sha256:a5852885bec7b265c98bc897b6c45448d88c3cc92b098cd3d221b4c98e20edd4',
      'postgres@0.2.12/sha256:bd617c1e5c412be4cd4959de486ed9e1f08ef16e469f0aa7738bc690bb2ad007',
      'redis@0.3.10/sha256:b4f659497c189dc2866b742806ab9b37ec2fcb4f7d743d555983315df1c39e25',
      'showcase@0.2.12/sha256:01d321c3fa101f1841f8945f5a9a8d3cbce841221dbb0c73cab8e42e8e9d01c2',
    ]);
    // With an empty PATH only absolute programs are found; the others say what is missing.
    for (const action of state.actions) {
      const absolute = action.execution.binary.startsWith('/');
      expect(action.primary_executable_available).toBe(absolute);
      if (!absolute) expect(action.missing_executable).toBe(action.execution.binary);
    }
    const decoded = decodeFrame(encodeFrame(state), { maxBytes: FRAME_MAX_BYTES });
    expect(decoded.kind).toBe('frame');
  });

  it('leaves out actions local admission refuses', async () => {
    const config = await configFor(
      REFERENCE,
      'admission:\n  max_risk: medium\n  deny: ["linux.*"]\n',
    );
    const registry = await loadRegistry(config);
    const state = buildRunnerState(
      config,
      registry,
      await checkAvailability(registry, ''),
      '0.1.0',
    );
    expect(state.actions.length).toBeGreaterThan(0);
    expect(state.actions.length).toBeLessThan(registry.actions.size);
    for (const action of state.actions) {
      expect(['low', 'medium']).toContain(action.risk);
      expect(action.id.startsWith('linux.')).toBe(false);
    }
  });
});
