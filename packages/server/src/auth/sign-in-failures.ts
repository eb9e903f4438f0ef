import { sql } from 'kysely';
import type { AuditContext } from '../core/actor.js';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import type { Db, Tx } from '../core/tx.js';
import type { PeriodicJob } from '../jobs/periodic.js';
import type { PersonAudit } from './person-audit.js';

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
  trx: Tx,
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
const SWEEP_INTERVAL_MS = 2_000;

/**
 * Moves queued failures into the audit log, oldest first, in batches; several
 * nodes may run it at once (each claims rows the others skip). Returns how
 * many rows it handled.
 */
export async function auditSignInFailures(
  db: Db,
  personAudit: Pick<PersonAudit, 'recordForPeople'>,
): Promise<number> {
  let handled = 0;
  for (;;) {
    const claimed = await db.transaction().execute(async (trx) => {
      const rows = await claimFailures(trx);
      const userIds = [...new Set(rows.flatMap((row) => (row.user_id ? [row.user_id] : [])))];
      if (!userIds.length) return rows.length;
      const users = await trx
        .selectFrom('users')
        .select(['id', 'email'])
        .where('id', 'in', userIds)
        .execute();
      const ordered = [...rows].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
      await personAudit.recordForPeople(
        trx,
        ordered.flatMap((row) => {
          const user = users.find((u) => u.id === row.user_id);
          if (!user) return [];
          const event = {
            eventType: 'user.sign_in_failed',
            actor: userActor(user),
            payload: { method: row.method, reason: row.reason },
            context: row.context,
            occurredAt: row.occurred_at,
          };
          return [{ userId: user.id, event }];
        }),
      );
      return rows.length;
    });
    handled += claimed;
    if (claimed < BATCH) return handled;
  }
}

/** Deletes and returns up to one batch of queued failures that no other node holds. */
async function claimFailures(trx: Tx) {
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
  return rows;
}

/**
 * The failure audit every two seconds on every node, on its own schedule
 * rather than after each failure, so the audit work does not follow the
 * request that caused it.
 */
export function signInFailureAuditJob(deps: {
  personAudit: Pick<PersonAudit, 'recordForPeople'>;
}): PeriodicJob<{ handled: number }> {
  return {
    name: 'sign-in failure audit',
    lock: null,
    intervalMs: SWEEP_INTERVAL_MS,
    firstDelayMs: SWEEP_INTERVAL_MS,
    run: async (db) => ({ handled: await auditSignInFailures(db, deps.personAudit) }),
  };
}
