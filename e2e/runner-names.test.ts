import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from './support/control-plane.js';
import { System } from './support/system.js';

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';

describe(`runner names: several runners on one host (${backend})`, () => {
  let s: System;
  beforeAll(async () => {
    s = await System.start({ noRunner: true, reusableEnrollmentKey: true });
  }, 240_000);
  afterAll(() => s?.close());

  it('two runners with different runner.id on this host both come online, each runs an action addressed by its name', async () => {
    const hosts = await Promise.all(
      ['e2e-web-a', 'e2e-web-b'].map((id) => s.startRunner(id, s.keys.enrollment)),
    );
    try {
      const online = await Promise.all(['e2e-web-a', 'e2e-web-b'].map((n) => s.waitOnline(n)));
      expect(online.map((r) => r.name)).toEqual(['e2e-web-a', 'e2e-web-b']);

      const runs = s.runs();
      for (const [i, name] of ['e2e-web-a', 'e2e-web-b'].entries()) {
        const created = await runs.create({
          runner: name,
          action_id: 'linux.uptime',
          reason: `e2e: is ${name} up and how loaded is it?`,
        });
        const run = await runs.waitTerminal(created.id);
        expect(run, s.diagnostics()).toMatchObject({ status: 'success', runner_id: online[i]!.id });
        // It ran on the host that carries that name, and only there.
        expect(await hosts[i]!.executions(run.request_id)).toBe(1);
        expect(await hosts[1 - i]!.executions(run.request_id)).toBe(0);
      }
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  }, 180_000);
});
