import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  extractPackTarball,
  loadPack,
  PackArchiveError,
  packTarball,
  readPackTarball,
} from './index.js';
import {
  REFERENCE_PACKS,
  type TempDir,
  tempDir,
  withoutReferencePacks,
} from './test-support/fixtures.js';

const run = promisify(execFile);
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

/** Builds a .tar.gz with GNU tar from files written into a scratch directory. */
async function gnuTar(
  name: string,
  files: Record<string, string | Buffer>,
  args: string[] = [],
): Promise<Buffer> {
  const dir = path.join(tmp.path, `src-${name}`);
  for (const [file, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), body);
  }
  const out = path.join(tmp.path, `${name}.tgz`);
  await run('tar', [
    '-czf',
    out,
    '-C',
    dir,
    ...args,
    ...(args.includes('.') ? [] : Object.keys(files)),
  ]);
  return readFile(out);
}

describe('pack tarball', () => {
  it.skipIf(withoutReferencePacks())(
    'holds exactly the hashed files, sorted, deterministic, readable by GNU tar, and round-trips the hash',
    async () => {
      const pack = await loadPack(path.join(REFERENCE_PACKS, 'showcase'));
      const archive = await packTarball(pack);
      expect((await packTarball(pack)).equals(archive)).toBe(true);

      const file = path.join(tmp.path, 'showcase.tgz');
      await writeFile(file, archive);
      const { stdout } = await run('tar', ['-tzvf', file, '--numeric-owner']);
      const lines = stdout.trim().split('\n');
      expect(lines.map((l) => l.split(/\s+/).at(-1))).toEqual([
        'actions/every_arg_type.yaml',
        'actions/json_output.yaml',
        'actions/opts_envelope.yaml',
        'actions/path_validation.yaml',
        'actions/script_action.yaml',
        'pack.yaml',
        'scripts/echo_args.sh',
      ]);
      expect(lines.at(-1)).toMatch(/^-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 scripts\/echo_args\.sh$/);
      expect(lines[0]).toMatch(/^-rw-r--r-- 0\/0 /);

      const dest = await extractPackTarball(archive, path.join(tmp.path, 'installed-showcase'));
      const installed = await loadPack(dest);
      expect(installed.packRef).toBe(pack.packRef);
      expect((await stat(path.join(dest, 'scripts/echo_args.sh'))).mode & 0o777).toBe(0o755);
    },
  );

  it('refuses absolute and .. names', async () => {
    const absolute = await gnuTar('abs', { 'a.txt': 'x' }, ['-P', '--transform', 's,^,/etc/,']);
    expect(() => readPackTarball(absolute)).toThrow(/clean relative paths/);
    const dotdot = await gnuTar('dotdot', { 'a.txt': 'x' }, ['--transform', 's,^,../,']);
    expect(() => readPackTarball(dotdot)).toThrow(/clean relative paths/);
  });

  it('refuses non-regular entries', async () => {
    const dir = path.join(tmp.path, 'src-link');
    await mkdir(dir, { recursive: true });
    await symlink('/etc/passwd', path.join(dir, 'link'));
    const out = path.join(tmp.path, 'link.tgz');
    await run('tar', ['-czf', out, '-C', dir, 'link']);
    const linkArchive = await readFile(out);
    expect(() => readPackTarball(linkArchive)).toThrow(PackArchiveError);
    const withDir = await gnuTar('dir', { 'sub/a.txt': 'x' }, ['.']);
    expect(() => readPackTarball(withDir)).toThrow(/not a regular file/);
  });

  it('refuses more than 4000 entries, a file over 8 MiB, and more than 32 MiB in all', async () => {
    const many = Object.fromEntries(Array.from({ length: 4001 }, (_, i) => [`f/${i}`, '']));
    await expect(async () => readPackTarball(await gnuTar('many', many))).rejects.toThrow(
      /more than 4000 entries/,
    );
    const big = await gnuTar('big', { 'big.bin': Buffer.alloc(8 * 1024 * 1024 + 1) });
    expect(() => readPackTarball(big)).toThrow(/larger than 8 MiB/);
    const seven = Buffer.alloc(7 * 1024 * 1024);
    const total = await gnuTar('total', { a: seven, b: seven, c: seven, d: seven, e: seven });
    expect(() => readPackTarball(total)).toThrow(/exceeds 32 MiB/);
  });

  it('refuses bytes that are not a gzip archive', () => {
    expect(() => readPackTarball(Buffer.from('not gzip'))).toThrow(/not a gzip archive/);
  });
});
