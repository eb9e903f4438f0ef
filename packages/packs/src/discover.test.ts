import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverPacks } from './index.js';
import {
  actionDoc,
  manifestDoc,
  type TempDir,
  tempDir,
  writePack,
} from './test-support/fixtures.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const pack = (id: string, actionIds: string[]) => ({
  manifest: manifestDoc(
    actionIds.map((a) => `actions/${a}.yaml`),
    { id },
  ),
  actions: Object.fromEntries(actionIds.map((a) => [`actions/${a}.yaml`, actionDoc({ id: a })])),
});

describe('discoverPacks', () => {
  it('treats a missing packs path as empty', async () => {
    expect(await discoverPacks([path.join(tmp.path, 'nope')])).toEqual({ packs: [], degraded: [] });
  });

  it('loads a path holding pack.yaml as one pack, else each child with pack.yaml, skipping dot-dirs', async () => {
    const single = await writePack(path.join(tmp.path, 'single'), pack('one', ['one.a']));
    const many = path.join(tmp.path, 'many');
    await writePack(path.join(many, 'b-pack'), pack('bee', ['bee.a']));
    await writePack(path.join(many, 'a-pack'), pack('ay', ['ay.a']));
    await writePack(path.join(many, '.hidden'), pack('hidden', ['hidden.a']));
    await mkdir(path.join(many, 'not-a-pack'));
    await writeFile(path.join(many, 'stray.yaml'), 'x: 1\n');
    const found = await discoverPacks([single, many]);
    expect(found.packs.map((p) => p.id)).toEqual(['one', 'ay', 'bee']);
    expect(found.degraded).toEqual([]);
  });

  it('skips a broken pack as degraded with a bounded reason and keeps the rest', async () => {
    const root = path.join(tmp.path, 'packs');
    await writePack(path.join(root, 'good'), pack('good', ['good.a']));
    await writePack(path.join(root, 'broken'), {
      ...pack('broken', ['broken.a']),
      actions: { 'actions/broken.a.yaml': actionDoc({ id: 'broken.a', ['k'.repeat(2000)]: 1 }) },
    });
    const found = await discoverPacks([root]);
    expect(found.packs.map((p) => p.id)).toEqual(['good']);
    expect(found.degraded).toHaveLength(1);
    expect(found.degraded[0]!.pack).toBe('broken');
    expect(found.degraded[0]!.reason).toContain('actions/broken.a.yaml');
    expect(Buffer.byteLength(found.degraded[0]!.reason)).toBeLessThanOrEqual(500);
  });

  it('keeps a duplicated action id in the first pack in path order and degrades the other', async () => {
    const first = await writePack(
      path.join(tmp.path, 'first'),
      pack('first', ['shared.action', 'first.own']),
    );
    const second = await writePack(
      path.join(tmp.path, 'second'),
      pack('second', ['second.own', 'shared.action']),
    );
    const found = await discoverPacks([second, first]);
    expect(found.packs.map((p) => p.id)).toEqual(['second']);
    expect(found.degraded).toEqual([
      {
        pack: 'first',
        reason: 'duplicate_action_id: shared.action is already declared by pack second',
      },
    ]);
  });
});
