import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseStream, stdoutOf } from './support/api.js';
import { onPostgres } from './support/control-plane.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';

describe(`enroll, dispatch, live output, audit — real server, runner and SMTP (${backend})`, () => {
  let s: System;
  beforeAll(async () => {
    s = await System.start({ noRunner: true });
  }, 240_000);
  afterAll(() => s?.close());

  it('a single-use key enrolls one runner; it comes online and runs linux.uptime to success, audited', async () => {
    s.runner = await s.startRunner('e2e-host-1', s.keys.enrollment);
    const runner = await s.waitOnline('e2e-host-1');

    // The key was single use: a second host presenting it is refused and stops.
    const second = await s.startRunner('e2e-host-2', s.keys.enrollment);
    const [code] = (await once(second.child!, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(second.output()).toMatch(/enrollment_key_invalid/);
    await second.close();

    const events = new SseStream(`${s.node.url}/api/v1/accounts/${s.slug}/events`, {
      authorization: `Bearer ${s.keys.mcp}`,
    });
    expect(await events.opened()).toBe(200);

    const runs = s.runs();
    const created = await runs.create({
      runner: runner.ref,
      action_id: 'linux.uptime',
      reason: 'e2e: is the host up and how loaded is it?',
    });
    expect(['pending', 'sent', 'running', 'success']).toContain(created.status);
    const run = await runs.waitTerminal(created.id);
    expect(run, s.diagnostics()).toMatchObject({
      status: 'success',
      exit_code: 0,
      output: expect.objectContaining({ complete: true }),
    });
    expect(stdoutOf(await runs.output(created.id))).toMatch(/load average/);

    // Live: the account's event stream carried this run's output and its end.
    await eventually(() => {
      const mine = events.events.filter((e) => e.data.includes(created.id));
      return mine.some((e) => /output/.test(e.event + e.data)) && mine.length >= 2;
    });
    await events.close();

    // Exactly one execution on the host, bound to this run's request id.
    expect(await s.runner.executions(run.request_id)).toBe(1);

    // The run and its audit events are in the SIEM export.
    // (polled slowly: the export allows 60 requests a minute per key)
    const all = await eventually(async () => {
      const events = await s.auditEvents();
      return events.some((e) => e.event_type === 'run.success' && e.target_id === created.id)
        ? events
        : undefined;
    }, 2_000);
    const audit = all.filter((e) => e.target_id === created.id);
    expect(audit.map((e) => e.event_type)).toEqual([
      'run.requested',
      'run.sent',
      'run.running',
      'run.success',
    ]);
    expect(JSON.stringify(audit)).toContain('linux.uptime');
    const enrolled = all.filter((e) => e.event_type === 'runner.enrolled');
    expect(enrolled).toHaveLength(1);
  }, 180_000);
});
