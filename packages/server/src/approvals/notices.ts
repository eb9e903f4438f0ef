import { publishAccountEvent } from '../bus/account-events.js';
import type { Db, Tx } from '../core/tx.js';
import type { ApprovalMailMessage } from '../mail/index.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';

export type ApprovalOutcomeKind = Extract<
  ApprovalMailMessage,
  { template: 'approval_outcome' }
>['outcome'];

/** The request's workspace: its name and slug for mails, its settings for grants. */
export async function workspaceOf(
  ctx: Pick<ApprovalsContext, 'accounts'>,
  db: Db,
  accountId: string,
) {
  const account = await ctx.accounts.findAccountById(db, accountId);
  if (!account) throw new Error(`no account ${accountId}`);
  return account;
}

export async function emailOf(
  ctx: Pick<ApprovalsContext, 'auth'>,
  db: Db,
  userId: string | null,
): Promise<string | null> {
  if (!userId) return null;
  const [user] = await ctx.auth.usersByIds(db, [userId]);
  return user?.email ?? null;
}

export function approvalLink(ctx: Pick<ApprovalsContext, 'baseUrl'>, slug: string, id: string) {
  return `${ctx.baseUrl}/app/${encodeURIComponent(slug)}/approvals/${id}`;
}

/** The live `approval` event: whoever shows the request reloads it. */
export async function publishApproval(
  ctx: Pick<ApprovalsContext, 'bus'>,
  trx: Tx,
  accountId: string,
  id: string,
) {
  await publishAccountEvent(ctx.bus, trx, { accountId, kind: 'approval', id });
}

/** Mails the requester (when a person) how their request ended. */
export async function notifyRequester(
  ctx: ApprovalsContext,
  trx: Tx,
  request: ApprovalRow,
  outcome: ApprovalOutcomeKind,
  extra: { decidedBy: string | null; note: string | null; statusReason: string | null },
) {
  const to = await emailOf(ctx, trx, request.requested_by_user_id);
  if (!to) return;
  const account = await workspaceOf(ctx, trx, request.account_id);
  const runner = await ctx.checks.runner(trx, request.account_id, request.runner_id);
  await ctx.outbox.enqueue(trx, {
    accountId: request.account_id,
    to,
    message: {
      template: 'approval_outcome',
      workspace: account.name,
      actionId: request.action_id,
      runner: runner?.name ?? request.runner_id,
      outcome,
      ...extra,
      link: approvalLink(ctx, account.slug, request.id),
    },
  });
}
