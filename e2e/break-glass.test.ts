import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLASS_PACK } from '../packages/packs/src/test-support/fixtures.js';
import type { RunnerHost } from './support/runner.js';
import { System } from './support/system.js';
import { eventually } from './support/wait.js';

interface RunnerDetail {
  actions: { id: string; break_glass: boolean }[];
  refused_actions: { id: string; reason: string }[];
}

describe('break-glass actions: refused alone, or advertised on an explicit host opt-in', () => {
  let s: System;
  const hosts: RunnerHost[] = [];
  beforeAll(async () => {
    s = await System.start({ noRunner: true, reusableEnrollmentKey: true });
  }, 240_000);
  afterAll(async () => {
    for (const host of hosts) await host.close();
    await s?.close();
  });

  const detail = (name: string) =>
    eventually(async () => {
      const base = `/api/v1/accounts/${s.slug}/runners`;
      const shown = await s.api().request<{ runner?: RunnerDetail }>('GET', `${base}/${name}`);
      const runner = shown.body.runner;
      return runner?.actions.some((a) => a.id === 'glass.ok') ? runner : undefined;
    }, 100);

  it('without the opt-in the pack loads, the action is listed as refused, and a run for it is action_not_admitted', async () => {
    hosts.push(await s.startRunner('e2e-glass-plain', s.keys.enrollment, { packs: [GLASS_PACK] }));
    const runner = await detail('e2e-glass-plain');
    expect(runner.actions.map((a) => a.id)).toEqual(['glass.ok']);
    expect(runner.refused_actions).toContainEqual(
      expect.objectContaining({
        id: 'glass.run_script',
        reason: expect.stringMatching(/^refused at load: argument script/),
      }),
    );
    const run = await s
      .api()
      .request<{ error: { id: string; message: string } }>(
        'POST',
        `/api/v1/accounts/${s.slug}/runs`,
        {
          runner: 'e2e-glass-plain',
          action_id: 'glass.run_script',
          args: { script: 'echo hi' },
          reason: 'e2e: the staging script, on a host without the opt-in',
        },
      );
    expect(run.status).toBe(409);
    expect(run.body.error).toMatchObject({
      id: 'action_not_admitted',
      message: expect.stringContaining('refused at load'),
    });
  }, 120_000);

  it('with admission.break_glass (and max_risk critical) the action is advertised marked break-glass', async () => {
    hosts.push(
      await s.startRunner('e2e-glass-opted', s.keys.enrollment, {
        packs: [GLASS_PACK],
        admission: '  max_risk: critical\n  break_glass: [glass.run_script]\n',
      }),
    );
    const runner = await detail('e2e-glass-opted');
    expect(runner.actions.map((a) => [a.id, a.break_glass])).toEqual([
      ['glass.ok', false],
      ['glass.run_script', true],
    ]);
    // Only a critical action can be opted in: the low-risk one stays refused.
    expect(runner.refused_actions.map((r) => r.id)).toEqual(['glass.low_script']);
  }, 120_000);
});
