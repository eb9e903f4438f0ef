import { type Kysely, sql } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { AUDIT_LOCK_NAMESPACE, recordAuditEvent } from './record.js';

const RETENTION_SWEEP_LOCK = 2;

export interface RetentionSweepResult {
  /** false when another node holds the sweep lock and this tick did nothing. */
  ran: boolean;
  accounts: number;
  deleted: number;
}

/**
 * Deletes audit events whose `retain_until` has passed and records
 * `audit.retention_swept` (with the count) in each account it trimmed, in the
 * same transaction per account. Checkpoints of deleted events go too: nothing
 * the server can export is left to check them against. Idempotent; one node at a time (a session advisory lock on one
 * connection, so each account's deletion commits on its own).
 */
export async function sweepAuditRetention(deps: {
  db: Kysely<Database>;
  clock: Clock;
}): Promise<RetentionSweepResult> {
  const now = deps.clock.now().toISOString();
  return deps.db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${AUDIT_LOCK_NAMESPACE}, ${RETENTION_SWEEP_LOCK}) as locked
    `.execute(conn);
    if (!rows[0]?.locked) return { ran: false, accounts: 0, deleted: 0 };
    try {
      const expired = await conn
        .selectFrom('audit_events')
        .select('account_id')
        .distinct()
        .where('retain_until', '<', now)
        .orderBy('account_id')
        .execute();
      let deleted = 0;
      for (const { account_id: accountId } of expired) {
        deleted += await conn.transaction().execute(async (trx) => {
          const result = await trx
            .deleteFrom('audit_events')
            .where('account_id', '=', accountId)
            .where('retain_until', '<', now)
            .executeTakeFirst();
          const count = Number(result.numDeletedRows);
          if (count === 0) return 0;
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
          await recordAuditEvent(trx, {
            accountId,
            eventType: 'audit.retention_swept',
            actor: { kind: 'system', id: null, label: 'retention sweep' },
            payload: { deleted: count, retained_from: now },
            occurredAt: now,
          });
          return count;
        });
      }
      return { ran: true, accounts: expired.length, deleted };
    } finally {
      await sql`select pg_advisory_unlock(${AUDIT_LOCK_NAMESPACE}, ${RETENTION_SWEEP_LOCK})`.execute(
        conn,
      );
    }
  });
}
