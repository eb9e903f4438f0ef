import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ApprovalService } from './service.js';

/** First key of the approvals' advisory locks ('appr'). */
const APPROVALS_LOCK_NAMESPACE = 0x61707072;
const EXPIRY_SWEEP_LOCK = 1;

/**
 * Expires overdue approval requests (their runs are denied `approval_expired`).
 * One node at a time: a session advisory lock on one connection, each request
 * in its own transaction on it. `ran` is false when another node held the lock.
 */
export async function sweepApprovalExpiry(deps: {
  db: Kysely<Database>;
  approvals: Pick<ApprovalService, 'expireDue'>;
}): Promise<{ ran: boolean; expired: number }> {
  return deps.db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${APPROVALS_LOCK_NAMESPACE}, ${EXPIRY_SWEEP_LOCK}) as locked
    `.execute(conn);
    if (!rows[0]?.locked) return { ran: false, expired: 0 };
    try {
      return { ran: true, expired: await deps.approvals.expireDue(conn) };
    } finally {
      await sql`select pg_advisory_unlock(${APPROVALS_LOCK_NAMESPACE}, ${EXPIRY_SWEEP_LOCK})`.execute(
        conn,
      );
    }
  });
}

/**
 * Runs the expiry sweep every `intervalMs` (and once soon after start); a
 * restart delays a tick but loses nothing, the sweep re-derives its work from
 * the rows. Returns a stop function that waits for a sweep in progress.
 */
export function startApprovalSweep(deps: {
  db: Kysely<Database>;
  approvals: Pick<ApprovalService, 'expireDue'>;
  intervalMs: number;
  log: { error(fields: object, message: string): void };
}): () => Promise<void> {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return; // a slow sweep is not stacked on itself
    running = sweepApprovalExpiry(deps)
      .then(() => {})
      .catch((error: unknown) => deps.log.error({ err: error }, 'approval expiry sweep failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, deps.intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
