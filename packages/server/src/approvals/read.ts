import type { AccountAccess } from '../core/access.js';
import { NotFoundError } from '../core/errors.js';
import { encodeKeysetCursor } from '../core/keyset-cursor.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';
import { emailOf } from './notices.js';
import { isRequester, mayDecide, maySee, visibleTo } from './reach.js';
import { approvalView, listSchema } from './views.js';

type ReadContext = Pick<ApprovalsContext, 'db' | 'auth'>;

/** A request as its reader sees it: the votes, the requester and whether they may decide. */
async function viewOf(ctx: ReadContext, access: AccountAccess, request: ApprovalRow) {
  const votes = await votesOn(ctx, request);
  return approvalView(request, {
    votes,
    requester: await emailOf(ctx, ctx.db, request.requested_by_user_id),
    canDecide:
      request.status === 'pending' &&
      mayDecide(access, request) &&
      !votes.some((v) => v.user_id === access.membership.user_id) &&
      (request.allow_self_approval || !isRequester(access, request)),
  });
}

/** The votes on a request in the order cast, each with its voter's email. */
async function votesOn(ctx: ReadContext, request: ApprovalRow) {
  const rows = await ctx.db
    .selectFrom('approval_decisions')
    .select(['user_id', 'decision', 'note', 'created_at'])
    .where('account_id', '=', request.account_id)
    .where('request_id', '=', request.id)
    .orderBy('created_at')
    .execute();
  const users = await ctx.auth.usersByIds(ctx.db, [...new Set(rows.map((row) => row.user_id))]);
  const emails = new Map(users.map((user) => [user.id, user.email]));
  return rows.flatMap((row) => {
    const email = emails.get(row.user_id);
    return email === undefined ? [] : [{ ...row, email }];
  });
}

export async function getApproval(ctx: ReadContext, access: AccountAccess, id: string) {
  if (!UUID_PATTERN.test(id)) throw new NotFoundError();
  const request = await ctx.db
    .selectFrom('approval_requests')
    .selectAll()
    .where('account_id', '=', access.account.id)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!request || !maySee(access, request)) throw new NotFoundError();
  return viewOf(ctx, access, request);
}

/** Newest first, only what the caller may decide (or requested), keyset-paged. */
export async function listApprovals(ctx: ReadContext, access: AccountAccess, query: unknown) {
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
    approvals: await Promise.all(page.map((row) => viewOf(ctx, access, row))),
    next_cursor:
      rows.length > limit && last ? encodeKeysetCursor({ at: last.created_at, id: last.id }) : null,
  };
}
