import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PACKAGE = fileURLToPath(new URL('../', import.meta.url));

/** The command npm links into node_modules/.bin; needs `npm run build` for the built CLI. */
describe('the emisar command', () => {
  it('is a committed launcher outside dist/, so npm links it at install time, and it has --version', async () => {
    const pkg = JSON.parse(await readFile(path.join(PACKAGE, 'package.json'), 'utf8'));
    const file = path.join(PACKAGE, pkg.bin.emisar);
    expect(path.relative(PACKAGE, file)).not.toMatch(/^dist\//);
    expect((await stat(file)).mode & 0o111).not.toBe(0);
    const { stdout } = await run(process.execPath, [file, '--version']);
    expect(stdout).toBe(`emisar ${pkg.version}\n`);
  });
});
