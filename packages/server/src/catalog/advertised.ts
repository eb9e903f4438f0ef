import type { Db } from '../core/tx.js';

/** What runners advertise (`ra`), each beside its pack version's trust (`pv`, null when never seen). */
export function advertisedWithTrust(executor: Db) {
  return executor
    .selectFrom('runner_actions as ra')
    .leftJoin('pack_versions as pv', (join) =>
      join
        .onRef('pv.account_id', '=', 'ra.account_id')
        .onRef('pv.pack_id', '=', 'ra.pack_id')
        .onRef('pv.version', '=', 'ra.pack_version'),
    );
}
