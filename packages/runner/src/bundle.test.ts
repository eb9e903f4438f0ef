import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const REPO_PACKS = fileURLToPath(new URL('../../../packs/linux', import.meta.url));

/** dist/emisar.mjs, which `npm run build` bundles; copied where nothing else is installed. */
describe('the single-file runner', () => {
  it('runs from an empty folder and matches its SHA-256 file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'emisar-bundle-'));
    try {
      for (const name of ['emisar.mjs', 'emisar.mjs.sha256']) {
        await copyFile(path.join(DIST, name), path.join(dir, name));
      }
      const bytes = await readFile(path.join(dir, 'emisar.mjs'));
      expect(await readFile(path.join(dir, 'emisar.mjs.sha256'), 'utf8')).toBe(
        `${createHash('sha256').update(bytes).digest('hex')}  emisar.mjs\n`,
      );
      const pkg = JSON.parse(await readFile(path.join(DIST, '..', 'package.json'), 'utf8'));
      const version = await run(process.execPath, ['emisar.mjs', '--version'], { cwd: dir });
      expect(version.stdout).toBe(`emisar ${pkg.version}\n`);
      const validate = await run(process.execPath, ['emisar.mjs', 'pack', 'validate', REPO_PACKS], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(validate.stdout).toMatch(/^pack linux OK: \d+ actions\nhash: sha256:[0-9a-f]{64}\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
