#!/usr/bin/env node
// npm links this committed file at install time, before `prepare` builds dist/; it runs the build.
import { existsSync } from 'node:fs';

const built = new URL('../dist/main.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('emisar-server: not built yet: run `npm run build` in the repository\n');
  process.exit(1);
}
await import(built.href);
