import { type Kysely, sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { lockAuditChain, recordAuditEvent } from './record.js';
import { mergeSeqRanges, type SeqRange } from './seq-ranges.js';

export interface RetentionSweepResult {
  accounts: number;
  deleted: number;
}

/**
 * Deletes audit events whose `retain_until` has passed and records
 * `audit.retention_swept` (with the count) in each account it trimmed, in the
 * same transaction per account. Checkpoints of deleted events go too: nothing
 * the server can export is left to check them against. Idempotent; each account's deletion commits on its own.
 */
export async function sweepAuditRetention(deps: {
  db: Kysely<Database>;
  clock: Clock;
}): Promise<RetentionSweepResult> {
  const now = deps.clock.now().toISOString();
  const conn = deps.db;
  const expired = await conn
    .selectFrom('audit_events')
    .select('account_id')
    .distinct()
    .where('retain_until', '<', now)
    .where('retain_until', '<', sql<string>`now()`)
    .orderBy('account_id')
    .execute();
  let deleted = 0;
  for (const { account_id: accountId } of expired) {
    deleted += await conn.transaction().execute(async (trx) => {
      const gone = await deleteExpired(trx, accountId, now);
      if (gone.deleted === 0) return 0;
      await trx
        .deleteFrom('audit_checkpoints as c')
        .where('c.account_id', '=', accountId)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('audit_events as e')
                .select('e.id')
                .whereRef('e.account_id', '=', 'c.account_id')
                .whereRef('e.cursor_seq', '=', 'c.seq')
                .where('e.cursor_sub', '=', 0),
            ),
          ),
        )
        .execute();
      // Under the chain lock, taken here rather than at the start so the
      // account's writers wait for the bookkeeping only, not the deletion.
      await lockAuditChain(trx, accountId);
      await noteRemoved(trx, accountId, gone.ranges);
      await recordAuditEvent(trx, {
        accountId,
        eventType: 'audit.retention_swept',
        actor: { kind: 'system', id: null, label: 'retention sweep' },
        payload: { deleted: gone.deleted, retained_from: now },
        occurredAt: now,
      });
      return gone.deleted;
    });
  }
  return { accounts: expired.length, deleted };
}

/**
 * Deletes the account's expired events: those past `retain_until` by the
 * sweep's clock and by the database's, which the delete guard checks (a node
 * whose clock runs ahead leaves the difference to the next sweep). Returns how
 * many rows went and the chain seqs among them as ranges.
 */
async function deleteExpired(
  trx: Kysely<Database>,
  accountId: string,
  now: string,
): Promise<{ deleted: number; ranges: SeqRange[] }> {
  const { rows } = await sql<{ deleted: number; ranges: SeqRange[] }>`
    WITH gone AS (
      DELETE FROM audit_events
      WHERE account_id = ${accountId} AND retain_until < ${now} AND retain_until < now()
      RETURNING seq
    ), islands AS (
      SELECT min(seq) AS first, max(seq) AS last
      FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS island FROM gone WHERE seq IS NOT NULL) s
      GROUP BY island
    )
    SELECT
      (SELECT count(*) FROM gone)::int AS deleted,
      coalesce((SELECT json_agg(json_build_array(first, last) ORDER BY first) FROM islands), '[]'::json) AS ranges
  `.execute(trx);
  return rows[0]!;
}

/** Adds what the sweep deleted to the ranges an export's head statement explains gaps by. */
async function noteRemoved(
  trx: Kysely<Database>,
  accountId: string,
  ranges: readonly SeqRange[],
): Promise<void> {
  if (ranges.length === 0) return;
  const head = await trx
    .selectFrom('audit_chain_heads')
    .select('removed_by_retention')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (!head) return;
  await trx
    .updateTable('audit_chain_heads')
    .set({
      removed_by_retention: JSON.stringify(mergeSeqRanges(head.removed_by_retention, ranges)),
    })
    .where('account_id', '=', accountId)
    .execute();
}
