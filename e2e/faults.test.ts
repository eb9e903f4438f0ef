import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stdoutOf } from './support/api.js';
import { onPostgres } from './support/control-plane.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';
const LINES = 100;

/** Every line-1..line-N exactly once, then "done". */
function expectEveryLineOnce(stdout: string): void {
  const lines = stdout.split('\n').filter(Boolean);
  expect(lines).toEqual([...Array.from({ length: LINES }, (_, i) => `line-${i + 1}`), 'done']);
}

describe(`faults: dropped runner connections and a control-plane restart (${backend})`, () => {
  let s: System;
  beforeAll(async () => {
    s = await System.start({ proxy: true });
  }, 240_000);
  afterAll(() => s?.close());

  it('20 cuts of the runner connection during a 10 s printing run: complete output, one execution', async () => {
    const runner = await s.waitOnline('e2e-host-1');
    const proxy = s.proxy!;
    const hold = join(s.runner!.home, 'hold-cuts');
    const runs = s.runs();
    const created = await runs.create({
      runner: runner.ref,
      action_id: 'e2ekit.count',
      args: { lines: LINES, interval_ms: 100, hold_file: hold },
      reason: 'e2e: output must survive dropped connections',
    });
    await runs.waitStatus(created.id, 'running');

    // Cut each fresh connection shortly after the runner re-established it.
    let cuts = 0;
    while (cuts < 20) {
      const seen = proxy.accepted();
      await eventually(() => proxy.liveConnections() > 0, 10);
      await new Promise((resolve) => setTimeout(resolve, 150));
      cuts += proxy.cutAll() > 0 ? 1 : 0;
      await eventually(() => proxy.accepted() > seen, 10);
    }
    // The run is still executing (it waits for the hold file): every cut fell inside it.
    expect((await runs.get(created.id)).status).toBe('running');
    await writeFile(hold, '');

    const run = await runs.waitTerminal(created.id);
    expect(run, s.diagnostics()).toMatchObject({
      status: 'success',
      output: expect.objectContaining({ complete: true }),
    });
    expectEveryLineOnce(stdoutOf(await runs.output(created.id)));
    expect(await s.runner!.executions(run.request_id)).toBe(1);
    expect(proxy.accepted()).toBeGreaterThanOrEqual(21);
  }, 240_000);

  it('the control plane restarted mid-run: the result is finalised after the runner reconnects', async () => {
    const runner = await s.waitOnline('e2e-host-1');
    const hold = join(s.runner!.home, 'hold-restart');
    const runs = s.runs();
    const created = await runs.create({
      runner: runner.ref,
      action_id: 'e2ekit.count',
      args: { lines: LINES, interval_ms: 20, hold_file: hold },
      reason: 'e2e: a restart of the control plane mid-run',
    });
    await eventually(async () => (await runs.output(created.id)).length > 0, 100);

    s.node = await s.cp.restart(s.node);
    // The runner keeps executing while the server is away; release it once it is back.
    await s.waitOnline('e2e-host-1');
    await writeFile(hold, '');

    const run = await s.runs().waitTerminal(created.id);
    expect(run, s.diagnostics()).toMatchObject({
      status: 'success',
      output: expect.objectContaining({ complete: true }),
    });
    expectEveryLineOnce(stdoutOf(await s.runs().output(created.id)));
    expect(await s.runner!.executions(run.request_id)).toBe(1);
  }, 240_000);
});
