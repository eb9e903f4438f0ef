import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../../../../bench/audit-export/export.mjs', import.meta.url));
const COUNT = 3000;

describe('bench/audit-export on a small count', () => {
  it('exports every event from a real server process with limit=all, in order, verifiable', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BENCH, '--count', String(COUNT), '--verify', '--json'],
      { env, maxBuffer: 1024 * 1024 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({
      backend: process.env.DATABASE_URL ? 'postgres' : 'pglite',
      events: COUNT,
      exported: COUNT,
      complete: true,
      verified: true,
      nextCursor: Buffer.from(String(COUNT)).toString('base64url'),
    });
    expect(summary.serverPeakRssMb).toBeGreaterThan(0);
  }, 180_000);
});
