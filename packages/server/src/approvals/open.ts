import { recordAuditEvent } from '../audit/index.js';
import type { AuditActor } from '../core/actor.js';
import type { Tx } from '../core/tx.js';
import type { ApprovalMailMessage } from '../mail/index.js';
import type { ApprovalRow, ApprovalsContext, RunnerNow } from './context.js';
import { approvalLink, emailOf, publishApproval, workspaceOf } from './notices.js';
import { decidersOf } from './reach.js';

/** What the runs domain hands over when policy says `require_approval`. */
export interface OpenApprovalInput {
  accountId: string;
  runId: string;
  requestedByUserId: string | null;
  apiKeyId: string | null;
  reason: string;
  evidence: string | null;
  expected: string | null;
  context: { runnerId: string; actionId: string; argsSha256: string; packRef: string };
  approval: { min_approvals: number; allow_self_approval: boolean };
  /** The trusted descriptor's risk; read from the run when absent. */
  risk?: string;
  /** The redacted argument JSON (sensitive values masked); read from the run when absent. */
  argsRedacted?: string | null;
}

/**
 * Parks a run: the request row, an email to every member who could decide
 * it (except the requester) and `approval.requested`, in the run's
 * transaction.
 */
export async function openApprovalRequest(
  ctx: ApprovalsContext,
  trx: Tx,
  input: OpenApprovalInput,
): Promise<{ id: string; expiresAt: string }> {
  const runner = await ctx.checks.runner(trx, input.accountId, input.context.runnerId);
  const { row, argsRedacted } = await insertRequest(ctx, trx, input, runner);
  const requester = (await emailOf(ctx, trx, input.requestedByUserId)) ?? 'An API key';
  const notified = await mailDeciders(ctx, trx, row, { requester, runner, argsRedacted });
  await publishApproval(ctx, trx, input.accountId, row.id);
  const actor: AuditActor = input.apiKeyId
    ? { kind: 'api_key', id: input.apiKeyId, label: requester }
    : { kind: 'user', id: input.requestedByUserId, label: requester };
  await recordAuditEvent(trx, {
    accountId: input.accountId,
    eventType: 'approval.requested',
    actor,
    target: { kind: 'approval_request', id: row.id, label: row.action_id },
    payload: {
      run_id: row.run_id,
      action_id: row.action_id,
      runner_id: row.runner_id,
      pack_ref: row.pack_ref,
      args_sha256: row.args_sha256,
      risk: row.risk,
      min_approvals: row.min_approvals,
      allow_self_approval: row.allow_self_approval,
      expires_at: row.expires_at,
      notified,
    },
  });
  return { id: row.id, expiresAt: row.expires_at };
}

async function insertRequest(
  ctx: ApprovalsContext,
  trx: Tx,
  input: OpenApprovalInput,
  runner: RunnerNow | null,
): Promise<{ row: ApprovalRow; argsRedacted: string | null }> {
  const facts = await runFacts(ctx, trx, input);
  const now = ctx.clock.now();
  const packId = input.context.packRef.split('@')[0] ?? input.context.packRef;
  const row = await trx
    .insertInto('approval_requests')
    .values({
      account_id: input.accountId,
      run_id: input.runId,
      requested_by_user_id: input.requestedByUserId,
      api_key_id: input.apiKeyId,
      reason: input.reason,
      evidence: input.evidence,
      expected: input.expected,
      runner_id: input.context.runnerId,
      runner_group: runner?.group ?? null,
      action_id: input.context.actionId,
      risk: facts.risk,
      pack_ref: input.context.packRef,
      pack_id: packId,
      args_sha256: input.context.argsSha256,
      args_redacted: facts.argsRedacted,
      min_approvals: input.approval.min_approvals,
      allow_self_approval: input.approval.allow_self_approval,
      expires_at: new Date(now.getTime() + ctx.approvalTtlMs).toISOString(),
      created_at: ctx.clock.now().toISOString(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, argsRedacted: facts.argsRedacted };
}

/** The fields a run knows that the caller did not pass (risk, redacted args). */
async function runFacts(ctx: ApprovalsContext, trx: Tx, input: OpenApprovalInput) {
  if (input.risk !== undefined && input.argsRedacted !== undefined) {
    return { risk: input.risk, argsRedacted: input.argsRedacted };
  }
  const run = await ctx.runRelease.facts(trx, input.accountId, input.runId);
  return {
    risk: input.risk ?? run?.risk ?? null,
    argsRedacted:
      input.argsRedacted !== undefined ? input.argsRedacted : (run?.argsRedacted ?? null),
  };
}

/** One `approval_needed` mail per member who could decide; returns how many. */
async function mailDeciders(
  ctx: ApprovalsContext,
  trx: Tx,
  row: ApprovalRow,
  who: { requester: string; runner: RunnerNow | null; argsRedacted: string | null },
): Promise<number> {
  const account = await workspaceOf(ctx, trx, row.account_id);
  const deciders = await decidersOf(ctx, trx, row, row.requested_by_user_id);
  const message: ApprovalMailMessage = {
    template: 'approval_needed',
    workspace: account.name,
    requester: who.requester,
    actionId: row.action_id,
    runner: who.runner?.name ?? row.runner_id,
    risk: row.risk,
    reason: row.reason,
    evidence: row.evidence,
    expected: row.expected,
    argsRedacted: who.argsRedacted,
    minApprovals: row.min_approvals,
    expiresAt: row.expires_at,
    link: approvalLink(ctx, account.slug, row.id),
  };
  for (const decider of deciders) {
    await ctx.outbox.enqueue(trx, { accountId: row.account_id, to: decider.email, message });
  }
  return deciders.length;
}

/** Cancelling a parked run cancels its request (no-op when none is pending). */
export async function cancelApprovalForRun(
  ctx: ApprovalsContext,
  trx: Tx,
  runId: string,
): Promise<boolean> {
  const row = await trx
    .updateTable('approval_requests')
    .set({ status: 'cancelled', decided_at: ctx.clock.now().toISOString() })
    .where('run_id', '=', runId)
    .where('status', '=', 'pending')
    .returning(['id', 'account_id', 'action_id'])
    .executeTakeFirst();
  if (!row) return false;
  await publishApproval(ctx, trx, row.account_id, row.id);
  await recordAuditEvent(trx, {
    accountId: row.account_id,
    eventType: 'approval.cancelled',
    actor: { kind: 'system', id: null, label: 'run cancelled' },
    target: { kind: 'approval_request', id: row.id, label: row.action_id },
    payload: { run_id: runId },
  });
  return true;
}
