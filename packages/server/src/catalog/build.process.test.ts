import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { discoverPacks } from '@emisar/packs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLASS_PACK } from '../../../packs/src/test-support/fixtures.js';
import { REPO_PACKS_DIR } from '../fleet/test-support/fixtures.js';
import { runServerCommand } from '../test-support/server-process.js';
import { loadPublishedCatalog } from './published.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'emisar-catalog-build-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('emisar-server catalog build', () => {
  it('writes every pack of packs/ with its hash, and the server loads the file', async () => {
    const out = path.join(dir, 'catalog.json');
    const run = await runServerCommand(['catalog', 'build', REPO_PACKS_DIR, '--out', out], {});
    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(run.stderr).toContain('wrote 2 pack(s)');
    const written = JSON.parse(await readFile(out, 'utf8'));
    const { packs } = await discoverPacks([REPO_PACKS_DIR]);
    expect(written).toEqual(
      packs
        .map((p) => ({ pack_id: p.id, version: p.version, hash: p.hash }))
        .sort((a, b) => a.pack_id.localeCompare(b.pack_id)),
    );
    const catalog = await loadPublishedCatalog(out);
    const linux = packs.find((p) => p.id === 'linux')!;
    expect(catalog.lists('linux', linux.version, linux.hash)).toBe(true);
    expect(catalog.lists('linux', linux.version, `sha256:${'0'.repeat(64)}`)).toBe(false);

    const printed = await runServerCommand(['catalog', 'build', REPO_PACKS_DIR], {});
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(written);

    const json = await runServerCommand(
      ['catalog', 'build', REPO_PACKS_DIR, '--out', out, '--json'],
      {},
    );
    expect(JSON.parse(json.stdout)).toEqual({ out, packs: written.length });
  });

  it('publishes a pack with a rule-breaking action under its exact hash, naming the refused action', async () => {
    const root = path.dirname(GLASS_PACK);
    const { packs } = await discoverPacks([root]);
    const run = await runServerCommand(['catalog', 'build', root], {});
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { pack_id: 'glass', version: '1.0.0', hash: packs[0]!.hash },
    ]);
    expect(run.stderr).toMatch(
      /pack glass: refused action glass\.run_script: argument script .*\(published; never advertised\)/,
    );
  });

  it('refuses a folder without packs or with a broken pack (exit 2)', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const none = await runServerCommand(['catalog', 'build', empty], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no packs found');
    const broken = path.join(dir, 'broken', 'bad');
    await mkdir(broken, { recursive: true });
    await writeFile(path.join(broken, 'pack.yaml'), 'schema_version: 1\nid: bad\n');
    const refused = await runServerCommand(['catalog', 'build', path.dirname(broken)], {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/emisar-server: pack bad does not load/);
  });

  it('a bad EMISAR_CATALOG_FILE is a configuration error naming the file', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify([{ pack_id: 'x', version: '1', hash: 'md5:1' }]));
    await expect(loadPublishedCatalog(file)).rejects.toThrow(
      /EMISAR_CATALOG_FILE .*bad\.json: entry 0\.hash is invalid/,
    );
    await expect(loadPublishedCatalog(path.join(dir, 'missing.json'))).rejects.toThrow(
      /cannot be read: ENOENT/,
    );
  });
});
