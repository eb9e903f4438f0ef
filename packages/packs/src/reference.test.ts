import path from 'node:path';

import { describe, expect, it } from 'vitest';
import { loadPack } from './index.js';

import { REFERENCE_PACKS, withoutReferencePacks } from './test-support/fixtures.js';

const VECTORS = [
  'debugging@0.2.17/sha256:cfc2f6aa83108c16bb2256f79dd01cbd03c068c686f5d6ca8749882084b19775',
  'linux-core@0.4.1/sha256:a5852885bec7b265c98bc897b6c45448d88c3cc92b098cd3d221b4c98e20edd4',
  'postgres@0.2.12/sha256:bd617c1e5c412be4cd4959de486ed9e1f08ef16e469f0aa7738bc690bb2ad007',
  'redis@0.3.10/sha256:b4f659497c189dc2866b742806ab9b37ec2fcb4f7d743d555983315df1c39e25',
  'showcase@0.2.12/sha256:01d321c3fa101f1841f8945f5a9a8d3cbce841221dbb0c73cab8e42e8e9d01c2',
];

describe.skipIf(withoutReferencePacks())('reference packs', () => {
  it.each(VECTORS)('loads %s with the spec hash', async (vector) => {
    const id = vector.split('@')[0]!;
    const pack = await loadPack(path.join(REFERENCE_PACKS, id));
    expect(pack.packRef).toBe(vector);
    console.log(id, pack.actions.length, pack.refusedActions);
  });
});
