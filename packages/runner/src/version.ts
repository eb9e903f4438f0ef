import { readFileSync } from 'node:fs';

/** Set by the bundler in the single-file runner, which has no package.json beside it. */
declare const EMISAR_BUNDLED_VERSION: string | undefined;

/** This package's version (read once from its package.json, beside src/ and dist/). */
export const RUNNER_VERSION: string = (() => {
  if (typeof EMISAR_BUNDLED_VERSION === 'string') return EMISAR_BUNDLED_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return '0.0.0';
  }
})();
