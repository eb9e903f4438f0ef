import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (pkg: string) =>
  fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources of sibling packages, never a stale dist/.
    alias: {
      '@emisar/protocol': source('protocol'),
      '@emisar/packs': source('packs'),
      '@emisar/runner': source('runner'),
      '@emisar/server': source('server'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    pool: 'forks',
    // Most suites wait on real processes, sockets and databases, not the CPU.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
