import { z } from 'zod';
import { type AuditEventInput, recordAuditEvent } from '../audit/index.js';
import { recentlyAuthenticated } from '../auth/index.js';
import type { AccountAccess } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import {
  ConflictError,
  ForbiddenError,
  InvalidParamsError,
  NotFoundError,
} from '../core/errors.js';
import { approverText, parseInput } from '../core/parse-input.js';
import type { Tx } from '../core/tx.js';
import { notifyRunnerWork } from '../fleet/index.js';
import type { ApprovalRow, ApprovalsContext } from './context.js';
import { expire } from './expiry.js';
import { createStandingGrant, grantLifetimeSeconds, grantOptionsSchema } from './grants.js';
import { notifyRequester, publishApproval, workspaceOf } from './notices.js';
import { isRequester, mayDecide } from './reach.js';
import { getApproval } from './read.js';
import { refusalAtRelease } from './release-checks.js';
import {
  closeRequest,
  countApprovals,
  followRunnerGroup,
  insertVote,
  lockRequest,
} from './requests.js';

export const decisionSchema = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  note: approverText(2000).optional(),
  grant: grantOptionsSchema.optional(),
});
export type DecisionInput = z.infer<typeof decisionSchema>;

/** Risks whose decision needs a recent sign-in; an unknown risk is treated as high. */
const REAUTH_RISKS: ReadonlySet<string | null> = new Set(['high', 'critical', null]);

type Outcome =
  | { kind: 'pending'; approvals: number }
  | { kind: 'approved'; grantId: string | null; runnerId: string }
  | { kind: 'denied' }
  | { kind: 'refused'; statusReason: string }
  | { kind: 'expired' };

/** One person's vote on one request, as the steps below pass it along. */
interface Vote {
  access: AccountAccess;
  session: Extract<AccountAccess['principal'], { kind: 'session' }>;
  userId: string;
  input: DecisionInput;
  context: RequestContext;
}

/**
 * One person's vote. One deny ends the request; distinct approvals reaching
 * `min_approvals` approve it, and the approving vote re-checks everything
 * before the run is released.
 */
export async function decide(
  ctx: ApprovalsContext,
  access: AccountAccess,
  requestId: string,
  body: unknown,
  context: RequestContext,
) {
  const input = parseInput(decisionSchema, body);
  const principal = access.principal;
  if (principal.kind !== 'session') {
    throw new ForbiddenError('API keys never decide approvals.', 'forbidden');
  }
  const vote: Vote = { access, session: principal, userId: principal.userId, input, context };
  const outcome = await ctx.db
    .transaction()
    .execute((trx) => decideInTransaction(ctx, trx, vote, requestId));

  ctx.outbox.kick();
  if (outcome.kind === 'expired') {
    throw new ConflictError('This request has expired.', 'approval_expired');
  }
  if (outcome.kind === 'approved') await notifyRunnerWork(ctx.bus, ctx.db, outcome.runnerId);
  return {
    outcome: outcome.kind,
    ...(outcome.kind === 'refused' ? { status_reason: outcome.statusReason } : {}),
    ...(outcome.kind === 'approved' ? { grant_id: outcome.grantId } : {}),
    approval: await getApproval(ctx, access, requestId),
  };
}

async function decideInTransaction(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  requestId: string,
): Promise<Outcome> {
  const request = await lockOpenRequest(ctx, trx, vote.access, requestId);
  if (request === 'expired') return { kind: 'expired' };
  checkVoter(ctx, vote, request);
  const lifetime = await grantLifetime(ctx, trx, vote, request);
  await castVote(ctx, trx, vote, request);
  if (vote.input.decision === 'deny') return deny(ctx, trx, vote, request);
  const approvals = await countApprovals(trx, request.id);
  if (approvals < request.min_approvals) return awaitMoreVotes(ctx, trx, vote, request, approvals);
  return approve(ctx, trx, vote, request, { approvals, lifetime });
}

/** The request under its row lock, still pending; an overdue one is expired on the spot. */
async function lockOpenRequest(
  ctx: ApprovalsContext,
  trx: Tx,
  access: AccountAccess,
  requestId: string,
): Promise<ApprovalRow | 'expired'> {
  const request = await lockRequest(trx, access.account.id, requestId);
  if (!request) throw new NotFoundError();
  await followRunnerGroup(ctx, trx, request);
  if (!mayDecide(access, request)) throw new NotFoundError();
  if (request.status === 'pending' && request.expires_at <= ctx.clock.now().toISOString()) {
    await expire(ctx, trx, request);
    return 'expired';
  }
  if (request.status === 'expired') {
    throw new ConflictError('This request has expired.', 'approval_expired');
  }
  if (request.status !== 'pending') {
    throw new ConflictError(`This request is already ${request.status}.`, 'approval_closed');
  }
  return request;
}

/** Self-approval, a recent sign-in for high risks, and grants only for API-key runs. */
function checkVoter(ctx: ApprovalsContext, vote: Vote, request: ApprovalRow): void {
  const { access, input } = vote;
  if (
    input.decision === 'approve' &&
    isRequester(access, request) &&
    !request.allow_self_approval
  ) {
    throw new ForbiddenError(
      'Policy does not allow approving your own request; another member must decide.',
      'self_approval_not_allowed',
    );
  }
  if (REAUTH_RISKS.has(request.risk) && !recentlyAuthenticated(vote.session, ctx.clock)) {
    throw new ForbiddenError(
      'Deciding a high-risk request needs a recent sign-in: re-authenticate and try again.',
      'reauth_required',
    );
  }
  if (input.grant && input.grant.duration !== 'once' && !request.api_key_id) {
    throw new InvalidParamsError(
      'grant: standing grants apply to runs from API keys only.',
      'grant_not_applicable',
    );
  }
}

/** The asked grant's lifetime under the workspace's cap (refused when grants are off). */
async function grantLifetime(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
): Promise<number | null> {
  const account = await workspaceOf(ctx, trx, request.account_id);
  return vote.input.grant
    ? grantLifetimeSeconds(vote.input.grant, account.settings.max_grant_lifetime_seconds)
    : null;
}

async function castVote(ctx: ApprovalsContext, trx: Tx, vote: Vote, request: ApprovalRow) {
  const cast = await insertVote(trx, request, {
    userId: vote.userId,
    decision: vote.input.decision,
    note: vote.input.note ?? null,
    at: ctx.clock.now().toISOString(),
  });
  if (!cast) throw new ConflictError('You have already voted on this request.', 'already_voted');
}

const close = (
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
  status: 'approved' | 'denied',
  statusReason: string | null,
) =>
  closeRequest(trx, request.id, {
    status,
    statusReason,
    at: ctx.clock.now().toISOString(),
    userId: vote.userId,
    note: vote.input.note ?? null,
  });

/** The audit event of a vote on this request. */
const voteEvent = (
  vote: Vote,
  request: ApprovalRow,
  eventType: string,
  payload: AuditEventInput['payload'],
): AuditEventInput => ({
  accountId: request.account_id,
  actor: vote.access.actor,
  context: vote.context,
  eventType,
  target: { kind: 'approval_request', id: request.id, label: request.action_id },
  payload,
});

/** A deny ends the request and its run. */
async function deny(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
): Promise<Outcome> {
  const note = vote.input.note ?? null;
  await close(ctx, trx, vote, request, 'denied', 'approval_denied');
  await ctx.runRelease.deny(trx, request.run_id, 'approval_denied');
  await notifyRequester(ctx, trx, request, 'denied', {
    decidedBy: vote.access.actor.label,
    note,
    statusReason: null,
  });
  await publishApproval(ctx, trx, request.account_id, request.id);
  await recordAuditEvent(
    trx,
    voteEvent(vote, request, 'approval.denied', { run_id: request.run_id, note }),
  );
  return { kind: 'denied' };
}

/** An approval short of `min_approvals`: counted, the request stays open. */
async function awaitMoreVotes(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
  approvals: number,
): Promise<Outcome> {
  await publishApproval(ctx, trx, request.account_id, request.id);
  await recordAuditEvent(
    trx,
    voteEvent(vote, request, 'approval.voted', {
      run_id: request.run_id,
      approvals,
      min_approvals: request.min_approvals,
      note: vote.input.note ?? null,
    }),
  );
  return { kind: 'pending', approvals };
}

/** The deciding approval: re-checked, then the run is released (or refused). */
async function approve(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
  tally: { approvals: number; lifetime: number | null },
): Promise<Outcome> {
  const refusal = await refusalAtRelease(trx, request, ctx);
  if (refusal) return refuse(ctx, trx, vote, request, { refusal, approvals: tally.approvals });
  const note = vote.input.note ?? null;
  await close(ctx, trx, vote, request, 'approved', null);
  await ctx.runRelease.release(trx, request.run_id);
  const grantId = await grantOnApproval(ctx, trx, vote, request, tally.lifetime);
  await notifyRequester(ctx, trx, request, 'approved', {
    decidedBy: vote.access.actor.label,
    note,
    statusReason: null,
  });
  await publishApproval(ctx, trx, request.account_id, request.id);
  const events = [
    voteEvent(vote, request, 'approval.approved', {
      run_id: request.run_id,
      approvals: tally.approvals,
      note,
    }),
  ];
  if (grantId && vote.input.grant) {
    events.push({
      ...voteEvent(vote, request, 'approval.grant_created', {
        run_id: request.run_id,
        duration: vote.input.grant.duration,
        lifetime_seconds: tally.lifetime,
        scope: vote.input.grant.scope,
        max_uses: vote.input.grant.max_uses ?? null,
      }),
      target: { kind: 'standing_grant', id: grantId, label: request.action_id },
    });
  }
  for (const event of events) await recordAuditEvent(trx, event);
  return { kind: 'approved', grantId, runnerId: request.runner_id };
}

/** Enough approvals, but a re-check failed: the run is denied with its reason. */
async function refuse(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
  found: { refusal: string; approvals: number },
): Promise<Outcome> {
  const { refusal, approvals } = found;
  await close(ctx, trx, vote, request, 'denied', refusal);
  await ctx.runRelease.deny(trx, request.run_id, refusal);
  await notifyRequester(ctx, trx, request, 'refused', {
    decidedBy: vote.access.actor.label,
    note: vote.input.note ?? null,
    statusReason: refusal,
  });
  await publishApproval(ctx, trx, request.account_id, request.id);
  await recordAuditEvent(
    trx,
    voteEvent(vote, request, 'approval.refused', {
      run_id: request.run_id,
      status_reason: refusal,
      approvals,
    }),
  );
  return { kind: 'refused', statusReason: refusal };
}

/** The standing grant an approver asked for with their approval; null when none. */
async function grantOnApproval(
  ctx: ApprovalsContext,
  trx: Tx,
  vote: Vote,
  request: ApprovalRow,
  lifetime: number | null,
): Promise<string | null> {
  const grant = vote.input.grant;
  if (!grant || lifetime === null || !request.api_key_id) return null;
  const lineageId = await ctx.credentials.apiKeyLineage(
    trx,
    request.account_id,
    request.api_key_id,
  );
  if (!lineageId) throw new Error(`no API key ${request.api_key_id}`);
  return createStandingGrant(trx, {
    accountId: request.account_id,
    requestId: request.id,
    createdByUserId: vote.userId,
    apiKeyLineageId: lineageId,
    actionId: request.action_id,
    packRef: request.pack_ref,
    runnerId: request.runner_id,
    argsSha256: grant.scope === 'exact_args' ? request.args_sha256 : null,
    maxUses: grant.max_uses ?? null,
    expiresAt: new Date(ctx.clock.now().getTime() + lifetime * 1000).toISOString(),
  });
}
