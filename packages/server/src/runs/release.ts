import type { RunRelease } from '../approvals/index.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Tx } from '../core/tx.js';
import { lockRun, transitionRun } from './transitions.js';

export interface RunReleaseDeps {
  bus: NotifyBus;
  clock: Clock;
}

const APPROVALS_ACTOR: AuditActor = { kind: 'system', id: null, label: 'approvals' };

/** The runs side of an approval outcome; a run no longer awaiting approval is left as it is. */
export function createRunRelease(deps: RunReleaseDeps): RunRelease {
  const settle = async (
    trx: Tx,
    runId: string,
    to: 'pending' | 'denied',
    statusReason: string | null,
  ) => {
    const run = await lockRun(trx, { id: runId });
    if (run?.status !== 'pending_approval') return;
    await transitionRun(trx, deps.bus, run, {
      to,
      statusReason,
      actor: APPROVALS_ACTOR,
      now: deps.clock.now().toISOString(),
    });
  };
  return {
    release: (trx, runId) => settle(trx, runId, 'pending', null),
    deny: (trx, runId, statusReason) => settle(trx, runId, 'denied', statusReason),
    async facts(trx, accountId, runId) {
      const run = await trx
        .selectFrom('runs')
        .select(['risk', 'args_redacted'])
        .where('account_id', '=', accountId)
        .where('id', '=', runId)
        .executeTakeFirst();
      return run ? { risk: run.risk, argsRedacted: run.args_redacted } : null;
    },
  };
}
