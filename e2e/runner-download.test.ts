import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNNER_VERSION } from '../packages/runner/src/version.js';
import { onPostgres } from './support/control-plane.js';
import { System } from './support/system.js';

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';

describe(`the runner downloaded from the control plane (${backend})`, () => {
  let s: System;
  let folder: string;
  beforeAll(async () => {
    s = await System.start({ noRunner: true });
    folder = await mkdtemp(join(tmpdir(), 'emisar-e2e-download-'));
  }, 240_000);
  afterAll(async () => {
    await s?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('is one file that matches its .sha256, and from an empty folder enrolls and runs linux.uptime', async () => {
    const base = `${s.node.url}/downloads/runner/${RUNNER_VERSION}/emisar.mjs`;
    const file = Buffer.from(await (await fetch(base)).arrayBuffer());
    const sum = await (await fetch(`${base}.sha256`)).text();
    expect(sum).toBe(`${createHash('sha256').update(file).digest('hex')}  emisar.mjs\n`);
    const program = join(folder, 'emisar.mjs');
    await writeFile(program, file);
    expect(await readdir(folder)).toEqual(['emisar.mjs']);

    const host = await s.startRunner('e2e-downloaded', s.keys.enrollment, { program });
    try {
      const online = await s.waitOnline('e2e-downloaded', ['linux.uptime']);
      expect(online.version).toBe(RUNNER_VERSION);
      const runs = s.runs();
      const created = await runs.create({
        runner: 'e2e-downloaded',
        action_id: 'linux.uptime',
        reason: 'e2e: does the downloaded runner work on its own?',
      });
      expect(await runs.waitTerminal(created.id), s.diagnostics()).toMatchObject({
        status: 'success',
      });
    } finally {
      await host.close();
    }
  }, 180_000);
});
