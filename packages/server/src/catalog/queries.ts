import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** What runners advertise (`ra`), each beside its pack version's trust (`pv`, null when never seen). */
export function advertisedWithTrust(executor: Kysely<Database>) {
  return executor
    .selectFrom('runner_actions as ra')
    .leftJoin('pack_versions as pv', (join) =>
      join
        .onRef('pv.account_id', '=', 'ra.account_id')
        .onRef('pv.pack_id', '=', 'ra.pack_id')
        .onRef('pv.version', '=', 'ra.pack_version'),
    );
}
