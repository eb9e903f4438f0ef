import type { RunnerStateFrame } from '@emisar/protocol';
import { publishAccountEvent } from '../bus/account-events.js';
import {
  type AdvertisementDeps,
  advertisementTooLarge,
  recordAdvertisement,
} from '../catalog/index.js';
import type { Clock } from '../core/clock.js';
import type { Db, Tx } from '../core/tx.js';

export interface IngestDeps extends AdvertisementDeps {
  clock: Clock;
}

/** The connection a runner_state arrived on. */
export interface IngestConnection {
  runnerId: string;
  accountId: string;
  generation: number;
}

export type IngestOutcome =
  /** `groupIgnored`: the runner asserted a group other than its own (recorded as an issue). */
  | { status: 'ingested'; groupIgnored: boolean }
  /** A newer connection holds the runner: nothing was written. */
  | { status: 'superseded' }
  | { status: 'too_large' };

/**
 * Stores a runner_state, fenced by its connection generation: the runner's
 * identity facts here, what it advertises in the catalog.
 */
export async function ingestRunnerState(
  db: Db,
  deps: IngestDeps,
  conn: IngestConnection,
  frame: RunnerStateFrame,
): Promise<IngestOutcome> {
  if (advertisementTooLarge(frame)) return { status: 'too_large' };
  return db.transaction().execute(async (trx) => {
    const runner = await lockCurrentRunner(trx, conn);
    if (!runner) return { status: 'superseded' } as const;
    const now = deps.clock.now().toISOString();
    const asserted = frame.group !== '' && frame.group !== runner.group_name ? frame.group : null;
    await recordIdentityFacts(trx, conn, frame, asserted, now);
    await publishAccountEvent(deps.bus, trx, {
      accountId: conn.accountId,
      kind: 'runner',
      id: runner.id,
    });
    await recordAdvertisement(
      trx,
      deps,
      { accountId: conn.accountId, id: runner.id, name: runner.name },
      frame,
      now,
    );
    return { status: 'ingested', groupIgnored: asserted !== null } as const;
  });
}

/** The runner, locked, while this connection's generation holds it. */
function lockCurrentRunner(trx: Tx, conn: IngestConnection) {
  return trx
    .selectFrom('runners')
    .select(['id', 'name', 'group_name'])
    .where('id', '=', conn.runnerId)
    .where('account_id', '=', conn.accountId)
    .where('connection_generation', '=', conn.generation)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

async function recordIdentityFacts(
  trx: Tx,
  conn: IngestConnection,
  frame: RunnerStateFrame,
  assertedGroup: string | null,
  now: string,
): Promise<void> {
  await trx
    .updateTable('runners')
    .set({
      hostname: frame.hostname,
      labels: JSON.stringify(frame.labels),
      version: frame.version,
      degraded_packs: JSON.stringify(frame.degraded_packs),
      refused_actions: JSON.stringify(frame.refused_actions ?? []),
      asserted_group: assertedGroup,
      state_received_at: now,
    })
    .where('id', '=', conn.runnerId)
    .where('account_id', '=', conn.accountId)
    .execute();
}
