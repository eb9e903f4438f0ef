import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { startTestApp, type TestApp } from '../test-support/app.js';

describe('GET /downloads/runner/<version>/emisar.mjs', () => {
  const body = '#!/usr/bin/env node\nconsole.log("runner");\n';
  const digest = createHash('sha256').update(body).digest('hex');
  let dir: string;
  let h: TestApp;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'emisar-download-'));
    const file = path.join(dir, 'emisar.mjs');
    await writeFile(file, body);
    await writeFile(`${file}.sha256`, `${digest}  emisar.mjs\n`);
    h = await startTestApp({ config: { runnerDownload: { version: '1.2.3', file } } });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the runner file and its checksum to anyone, for its version only', async () => {
    const file = await fetch(`${h.url}/downloads/runner/1.2.3/emisar.mjs`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await file.text()).toBe(body);
    const sum = await fetch(`${h.url}/downloads/runner/1.2.3/emisar.mjs.sha256`);
    expect(await sum.text()).toBe(`${digest}  emisar.mjs\n`);
    expect((await fetch(`${h.url}/downloads/runner/1.2.4/emisar.mjs`)).status).toBe(404);
  });

  it('is configured from the runner package the build bundles', async () => {
    const config = await loadConfig({}, dir);
    expect(config.runnerDownload).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      file: expect.stringMatching(/\/runner\/dist\/emisar\.mjs$/),
    });
  });
});
