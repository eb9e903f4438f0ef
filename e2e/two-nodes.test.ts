import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseStream, stdoutOf } from './support/api.js';
import { onPostgres, type ServerNode } from './support/control-plane.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

describe.runIf(onPostgres)('two server processes sharing one PostgreSQL database', () => {
  let s: System;
  let nodeB: ServerNode;
  beforeAll(async () => {
    s = await System.start();
    nodeB = await s.cp.startNode();
  }, 240_000);
  afterAll(() => s?.close());

  it('runner on node A, dispatch and live output on node B, the right result', async () => {
    // The runner's only URL is node A's.
    const runner = await s.waitOnline('e2e-host-1');
    expect(s.runner!.options.url).toBe(s.node.url);
    expect(nodeB.port).not.toBe(s.node.port);
    const events = new SseStream(`${nodeB.url}/api/v1/accounts/${s.slug}/events`, {
      authorization: `Bearer ${s.keys.mcp}`,
    });
    expect(await events.opened()).toBe(200);

    const runsB = s.runs(nodeB);
    const created = await runsB.create({
      runner: runner.ref,
      action_id: 'e2ekit.count',
      args: { lines: 20, interval_ms: 50 },
      reason: 'e2e: dispatched on node B, executed via node A',
    });
    // Live output reaches node B's stream while the run is going.
    await eventually(() =>
      events.events.some((e) => e.data.includes(created.id) && /output/.test(e.event + e.data)),
    );
    const run = await runsB.waitTerminal(created.id);
    expect(run, s.diagnostics()).toMatchObject({
      status: 'success',
      exit_code: 0,
      output: expect.objectContaining({ complete: true }),
    });
    const lines = stdoutOf(await runsB.output(created.id))
      .split('\n')
      .filter(Boolean);
    expect(lines).toEqual([...Array.from({ length: 20 }, (_, i) => `line-${i + 1}`), 'done']);
    expect(await s.runner!.executions(run.request_id)).toBe(1);
    await events.close();
  }, 180_000);
});
