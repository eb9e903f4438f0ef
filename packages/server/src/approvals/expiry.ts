import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';
import { notifyRequester, publishApproval } from './notices.js';
import { lockRequest } from './requests.js';

/** Ends an overdue request: its run is denied with `approval_expired`. */
export async function expire(ctx: ApprovalsContext, trx: Tx, request: ApprovalRow): Promise<void> {
  const now = ctx.clock.now().toISOString();
  await trx
    .updateTable('approval_requests')
    .set({ status: 'expired', decided_at: now, status_reason: 'approval_expired' })
    .where('id', '=', request.id)
    .execute();
  await ctx.runRelease.deny(trx, request.run_id, 'approval_expired');
  await notifyRequester(ctx, trx, request, 'expired', {
    decidedBy: null,
    note: null,
    statusReason: null,
  });
  await publishApproval(ctx, trx, request.account_id, request.id);
  await recordAuditEvent(trx, {
    accountId: request.account_id,
    eventType: 'approval.expired',
    actor: { kind: 'system', id: null, label: 'approval expiry' },
    target: { kind: 'approval_request', id: request.id, label: request.action_id },
    payload: { run_id: request.run_id, expires_at: request.expires_at },
  });
}

/** Expires overdue requests, each in its own transaction on `executor`; returns how many. */
export async function expireDue(
  ctx: ApprovalsContext,
  executor: Kysely<Database>,
  limit: number,
): Promise<number> {
  const due = await executor
    .selectFrom('approval_requests')
    .select(['id', 'account_id'])
    .where('status', '=', 'pending')
    .where('expires_at', '<=', ctx.clock.now().toISOString())
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  let expired = 0;
  for (const { id, account_id: accountId } of due) {
    const done = await executor.transaction().execute(async (trx) => {
      const request = await lockRequest(trx, accountId, id);
      if (request?.status !== 'pending' || request.expires_at > ctx.clock.now().toISOString()) {
        return false;
      }
      await expire(ctx, trx, request);
      return true;
    });
    if (done) expired++;
  }
  if (expired) ctx.outbox.kick();
  return expired;
}
