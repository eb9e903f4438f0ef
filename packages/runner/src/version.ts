import { readFileSync } from 'node:fs';

/** This package's version (read once from its package.json, beside src/ and dist/). */
export const RUNNER_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return '0.0.0';
  }
})();
