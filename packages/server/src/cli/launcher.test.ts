import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PACKAGE = fileURLToPath(new URL('../../', import.meta.url));

async function launcher() {
  const pkg = JSON.parse(await readFile(path.join(PACKAGE, 'package.json'), 'utf8'));
  return { file: path.join(PACKAGE, pkg.bin['emisar-server']), version: pkg.version as string };
}

/** The command npm links into node_modules/.bin; needs `npm run build` for the built CLI. */
describe('the emisar-server command', () => {
  it('is a committed launcher outside dist/, so npm links it at install time, and it has --version', async () => {
    const { file, version } = await launcher();
    expect(path.relative(PACKAGE, file)).not.toMatch(/^dist\//);
    expect((await stat(file)).mode & 0o111).not.toBe(0);
    const { stdout } = await run(process.execPath, [file, '--version']);
    expect(stdout).toBe(`emisar-server ${version}\n`);
  });

  it('says how to build when the build is missing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'emisar-launcher-'));
    try {
      await mkdir(path.join(dir, 'bin'));
      const copy = path.join(dir, 'bin', 'emisar-server.js');
      await copyFile((await launcher()).file, copy);
      const failed = await run(process.execPath, [copy, '--version']).catch((error) => error);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toBe(
        'emisar-server: not built yet: run `npm run build` in the repository\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints each option default once in help', async () => {
    const { file } = await launcher();
    const { stdout } = await run(process.execPath, [file, 'enrollment-key', 'create', '--help']);
    expect(stdout).toMatch(/--reusable +allow several enrollments \(without it: single use\)\n/);
    expect(stdout).not.toMatch(/\(default: .*\(default:|\(default: false\)/);
  });
});
