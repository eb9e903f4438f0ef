import { UUID_PATTERN } from '../core/parse-input.js';
import type { Tx } from '../core/tx.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';
import type { ApprovalVote } from './tables.js';

/** Reads a request and locks its row for the rest of the transaction. */
export async function lockRequest(
  trx: Tx,
  accountId: string,
  id: string,
): Promise<ApprovalRow | undefined> {
  if (!UUID_PATTERN.test(id)) return undefined;
  return trx
    .selectFrom('approval_requests')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** Reach is judged on the runner's group as it is now (an admin may have moved it). */
export async function followRunnerGroup(
  ctx: Pick<ApprovalsContext, 'checks'>,
  trx: Tx,
  request: ApprovalRow,
) {
  const runner = await ctx.checks.runner(trx, request.account_id, request.runner_id);
  if (!runner || runner.group === request.runner_group) return;
  await trx
    .updateTable('approval_requests')
    .set({ runner_group: runner.group })
    .where('id', '=', request.id)
    .execute();
  request.runner_group = runner.group;
}

/** One vote per person and request; false when they already voted. */
export async function insertVote(
  trx: Tx,
  request: ApprovalRow,
  vote: { userId: string; decision: ApprovalVote; note: string | null; at: string },
): Promise<boolean> {
  const row = await trx
    .insertInto('approval_decisions')
    .values({
      account_id: request.account_id,
      request_id: request.id,
      user_id: vote.userId,
      decision: vote.decision,
      note: vote.note,
      created_at: vote.at,
    })
    .onConflict((oc) => oc.columns(['request_id', 'user_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countApprovals(trx: Tx, requestId: string): Promise<number> {
  const counted = await trx
    .selectFrom('approval_decisions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('request_id', '=', requestId)
    .where('decision', '=', 'approve')
    .executeTakeFirstOrThrow();
  return Number(counted.n);
}

/** Ends a request on a person's decision. */
export async function closeRequest(
  trx: Tx,
  requestId: string,
  close: {
    status: 'approved' | 'denied';
    statusReason: string | null;
    at: string;
    userId: string;
    note: string | null;
  },
) {
  await trx
    .updateTable('approval_requests')
    .set({
      status: close.status,
      status_reason: close.statusReason,
      decided_at: close.at,
      decided_by_user_id: close.userId,
      decision_note: close.note,
    })
    .where('id', '=', requestId)
    .execute();
}
