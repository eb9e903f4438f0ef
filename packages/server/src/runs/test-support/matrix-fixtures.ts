import { randomUUID } from 'node:crypto';
import { trustedRunner } from '../../approvals/test-support/fixtures.js';
import type { NotifyBus } from '../../bus/notify-bus.js';
import type { Clock } from '../../core/clock.js';
import { FULL_RUNNER_ACCESS } from '../../core/roles.js';
import type { Storage } from '../../db/database.js';
import { insertRun } from './fixtures.js';

/** The account-scoped routes of the runs domain (for the role × endpoint matrix). */
export const RUNS_PATHS = /^(\/runs.*|\/events)$/;

type Caller = { membershipId: string; accountId: string };
type Fixture = (caller: Caller) => Promise<{ path: string; body?: unknown }>;

/**
 * A fixture per run route that succeeds for every role holding its
 * permission: the caller is given runner reach; dispatch targets a runner with
 * the repo's packs trusted; the event stream ends after a moment.
 */
export function runsMatrixFixtures(
  env: () => { storage: Storage; bus: NotifyBus; clock: Clock; secretKey: Buffer },
): Record<string, Fixture> {
  const reach = async ({ membershipId }: Caller) => {
    await env()
      .storage.db.updateTable('memberships')
      .set({ runner_access: JSON.stringify(FULL_RUNNER_ACCESS) })
      .where('id', '=', membershipId)
      .execute();
  };
  const run = async (caller: Caller) => {
    await reach(caller);
    const { storage, secretKey } = env();
    return (
      await insertRun(storage.db, secretKey, {
        accountId: caller.accountId,
        runnerId: randomUUID(),
      })
    ).id;
  };
  return {
    'POST /runs': async (caller) => {
      await reach(caller);
      const { storage, bus, clock } = env();
      const runner = await trustedRunner(storage.db, { bus, clock }, caller.accountId);
      return {
        path: '/runs',
        body: {
          runner: runner.id,
          action_id: 'linux.uptime',
          args: {},
          reason: 'role matrix: dispatch a harmless action',
        },
      };
    },
    'GET /runs': async () => ({ path: '/runs' }),
    'GET /runs/:id': async (c) => ({ path: `/runs/${await run(c)}` }),
    'GET /runs/:id/output': async (c) => ({ path: `/runs/${await run(c)}/output` }),
    'POST /runs/:id/cancel': async (c) => ({ path: `/runs/${await run(c)}/cancel`, body: {} }),
    'GET /events': async () => ({ path: '/events?timeout=50ms' }),
  };
}
