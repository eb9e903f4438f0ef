// Bundles the built runner CLI (dist/cli.js) and every dependency into one file,
// dist/emisar.mjs, that the host's Node.js runs with nothing else installed, and
// writes its SHA-256 beside it (dist/emisar.mjs.sha256, in `sha256sum -c` form).
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const dist = new URL('../dist/', import.meta.url);
const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('cli.js', dist).pathname],
  outfile: new URL('emisar.mjs', dist).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // The CommonJS dependencies (commander, ws) call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __emisarRequire } from 'node:module'; const require = __emisarRequire(import.meta.url);",
  },
  define: { EMISAR_BUNDLED_VERSION: JSON.stringify(version) },
  // ws loads these native speed-ups only when installed.
  external: ['bufferutil', 'utf-8-validate'],
  legalComments: 'none',
  logLevel: 'warning',
});

const file = await readFile(new URL('emisar.mjs', dist));
const digest = createHash('sha256').update(file).digest('hex');
await writeFile(new URL('emisar.mjs.sha256', dist), `${digest}  emisar.mjs\n`);
