import { type Kysely, sql } from 'kysely';
import type { AuditContext } from '../audit/record.js';
import { recordAuditEvents } from '../audit/record.js';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import type { Database } from '../db/schema.js';

export interface SignInFailure {
  /** null when the address has no account (or a code row that belongs to nobody). */
  userId: string | null;
  method: 'password' | 'code' | 'mfa';
  reason: string;
  context: RequestContext;
}

/**
 * Failed sign-ins are queued, one row each whether or not the address has an
 * account, so a failure costs the request the same either way; the sweep
 * below turns the rows of registered people into `user.sign_in_failed` events
 * in every workspace they belong to and drops the rest.
 */
export async function recordSignInFailure(
  trx: Kysely<Database>,
  failure: SignInFailure,
  clock: Clock,
): Promise<void> {
  const { ip, userAgent, requestId, authMethod, mfa } = failure.context;
  const context: AuditContext = { ip, userAgent, requestId, authMethod, mfa };
  await trx
    .insertInto('sign_in_failures')
    .values({
      user_id: failure.userId,
      method: failure.method,
      reason: failure.reason,
      context: JSON.stringify(context),
      occurred_at: clock.now().toISOString(),
    })
    .execute();
}

const BATCH = 200;

/**
 * Moves queued failures into the audit log, oldest first, in batches; several
 * nodes may run it at once (each claims rows the others skip). Returns how
 * many rows it handled.
 */
export async function auditSignInFailures(db: Kysely<Database>): Promise<number> {
  let handled = 0;
  for (;;) {
    const claimed = await db.transaction().execute(async (trx) => {
      const { rows } = await sql<{
        user_id: string | null;
        method: string;
        reason: string;
        context: AuditContext;
        occurred_at: string;
      }>`
        DELETE FROM sign_in_failures WHERE id IN (
          SELECT id FROM sign_in_failures ORDER BY occurred_at LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED)
        RETURNING user_id, method, reason, context, occurred_at`.execute(trx);
      const userIds = [...new Set(rows.flatMap((row) => (row.user_id ? [row.user_id] : [])))];
      if (!userIds.length) return rows.length;
      const memberships = await trx
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(['m.account_id', 'u.id', 'u.email'])
        .where('m.user_id', 'in', userIds)
        .where('m.deleted_at', 'is', null)
        .where('m.accepted_at', 'is not', null)
        .execute();
      const ordered = [...rows].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
      await recordAuditEvents(
        trx,
        ordered.flatMap((row) =>
          memberships
            .filter((m) => m.id === row.user_id)
            .map((m) => ({
              accountId: m.account_id,
              eventType: 'user.sign_in_failed',
              actor: userActor(m),
              payload: { method: row.method, reason: row.reason },
              context: row.context,
              occurredAt: row.occurred_at,
            })),
        ),
      );
      return rows.length;
    });
    handled += claimed;
    if (claimed < BATCH) return handled;
  }
}

/**
 * Runs the failure audit every `intervalMs`, on its own schedule rather than
 * after each failure, so the audit work does not follow the request that
 * caused it. Returns a stop function that waits for a pass in progress.
 */
export function startSignInFailureAudit(deps: {
  db: Kysely<Database>;
  intervalMs: number;
  log: { warn(fields: object, message: string): void };
}): () => Promise<void> {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = auditSignInFailures(deps.db)
      .then(() => {})
      .catch((error: unknown) => deps.log.warn({ err: error }, 'sign-in failure audit failed'))
      .finally(() => {
        running = undefined;
      });
  }, deps.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
