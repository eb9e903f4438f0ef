import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, stdoutOf } from './support/api.js';
import { onPostgres } from './support/control-plane.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

const LINES = 150;
const CUT_MS = 8000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  path: string;
  status: number;
  retryAfter: string | null;
  errorId: string | undefined;
  duringCut: boolean;
}

/**
 * Keeps the API busy with the reads an operator's tools make — a run, its output,
 * the runners, the account, the audit export — recording every answer.
 */
function startApiLoad(s: System, runId: string, cut: { on: boolean }) {
  const answers: Answer[] = [];
  const mcp = s.api();
  const audit = new ApiClient(s.node.url, s.keys.audit);
  const base = `/api/v1/accounts/${s.slug}`;
  const calls: [ApiClient, string][] = [
    [mcp, `${base}/runs/${runId}`],
    [mcp, `${base}/runs/${runId}/output`],
    [mcp, `${base}/runners`],
    [mcp, base],
    [audit, '/api/audit?limit=100'],
  ];
  let stopped = false;
  const loop = async (offset: number) => {
    for (let i = offset; !stopped; i++) {
      const [client, path] = calls[i % calls.length]!;
      const duringCut = cut.on;
      const response = await client.request<{ error?: { id?: string } }>('GET', path);
      answers.push({
        path,
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        errorId: response.body?.error?.id,
        duringCut: duringCut && cut.on,
      });
      await sleep(50);
    }
  };
  const loops = [loop(0), loop(2)];
  return {
    answers,
    async stop(): Promise<Answer[]> {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

describe.runIf(onPostgres)('a database outage (PostgreSQL behind a TCP proxy)', () => {
  let s: System;
  beforeAll(async () => {
    s = await System.start({ databaseProxy: true });
  }, 240_000);
  afterAll(() => s?.close());

  it('8 s without the database during a printing run and API load: 503 with Retry-After, never 500, complete output', async () => {
    const runner = await s.waitOnline('e2e-host-1');
    const database = s.cp.databaseProxy!;
    const hold = join(s.runner!.home, 'hold-outage');
    const runs = s.runs();
    const created = await runs.create({
      runner: runner.ref,
      action_id: 'e2ekit.count',
      args: { lines: LINES, interval_ms: 100, hold_file: hold },
      reason: 'e2e: output must survive a database outage',
    });
    await eventually(async () => (await runs.output(created.id)).length > 0, 50);

    const cut = { on: false };
    const load = startApiLoad(s, created.id, cut);
    await sleep(500);
    cut.on = true;
    database.block();
    await sleep(CUT_MS);
    database.unblock();
    cut.on = false;
    // The API answers again once the pool has reconnected.
    const afterCut = load.answers.length;
    await eventually(() => load.answers.slice(afterCut).some((a) => a.status === 200), 50);
    const answers = await load.stop();

    // The run was still printing when the database came back: the cut fell inside it.
    expect((await runs.get(created.id)).status).toBe('running');
    await writeFile(hold, '');

    const failures = answers.filter(
      (a) =>
        !(a.status >= 200 && a.status < 300) &&
        !(
          a.status === 503 &&
          a.errorId === 'database_unavailable' &&
          /^[1-9]\d*$/.test(a.retryAfter ?? '')
        ),
    );
    expect(failures, s.diagnostics()).toEqual([]);
    expect(answers.filter((a) => a.duringCut && a.status === 503).length).toBeGreaterThan(0);

    const run = await runs.waitTerminal(created.id);
    expect(run, s.diagnostics()).toMatchObject({
      status: 'success',
      output: expect.objectContaining({ complete: true }),
    });
    const lines = stdoutOf(await runs.output(created.id))
      .split('\n')
      .filter(Boolean);
    expect(lines).toEqual([...Array.from({ length: LINES }, (_, i) => `line-${i + 1}`), 'done']);
    expect(await s.runner!.executions(run.request_id)).toBe(1);
    expect(s.node.process.child.exitCode).toBeNull();
  }, 240_000);
});
