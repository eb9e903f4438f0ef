import type { Kysely } from 'kysely';
import type { AccountAccess } from '../core/access.js';
import { NotFoundError } from '../core/errors.js';
import { encodeKeysetCursor } from '../core/keyset-cursor.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { Database } from '../db/schema.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';
import { emailOf } from './notices.js';
import { isRequester, mayDecide, maySee, visibleTo } from './reach.js';
import { approvalView, listSchema } from './views.js';

/** A request as its reader sees it: the votes, the requester and whether they may decide. */
export async function viewOf(
  executor: Kysely<Database>,
  access: AccountAccess,
  request: ApprovalRow,
) {
  const votes = await executor
    .selectFrom('approval_decisions as d')
    .innerJoin('users as u', 'u.id', 'd.user_id')
    .select(['d.user_id', 'u.email', 'd.decision', 'd.note', 'd.created_at'])
    .where('d.account_id', '=', request.account_id)
    .where('d.request_id', '=', request.id)
    .orderBy('d.created_at')
    .execute();
  return approvalView(request, {
    votes,
    requester: await emailOf(executor, request.requested_by_user_id),
    canDecide:
      request.status === 'pending' &&
      mayDecide(access, request) &&
      !votes.some((v) => v.user_id === access.membership.user_id) &&
      (request.allow_self_approval || !isRequester(access, request)),
  });
}

export async function getApproval(
  ctx: Pick<ApprovalsContext, 'db'>,
  access: AccountAccess,
  id: string,
) {
  if (!UUID_PATTERN.test(id)) throw new NotFoundError();
  const request = await ctx.db
    .selectFrom('approval_requests')
    .selectAll()
    .where('account_id', '=', access.account.id)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!request || !maySee(access, request)) throw new NotFoundError();
  return viewOf(ctx.db, access, request);
}

/** Newest first, only what the caller may decide (or requested), keyset-paged. */
export async function listApprovals(
  ctx: Pick<ApprovalsContext, 'db'>,
  access: AccountAccess,
  query: unknown,
) {
  const { status, limit, cursor } = parseInput(listSchema, query);
  let q = visibleTo(
    ctx.db.selectFrom('approval_requests').selectAll().where('account_id', '=', access.account.id),
    access,
  );
  if (status) q = q.where('status', '=', status);
  if (cursor) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', cursor.at),
        eb.and([eb('created_at', '=', cursor.at), eb('id', '<', cursor.id)]),
      ]),
    );
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    approvals: await Promise.all(page.map((row) => viewOf(ctx.db, access, row))),
    next_cursor:
      rows.length > limit && last ? encodeKeysetCursor({ at: last.created_at, id: last.id }) : null,
  };
}
