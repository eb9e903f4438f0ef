import type { Kysely } from 'kysely';
import type { AccountAccess } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { ApprovalsContext, ApprovalsDeps } from './context.js';
import { decide } from './decide.js';
import { expireDue } from './expiry.js';
import { type GrantMatch, takeStandingGrant } from './grants.js';
import { cancelApprovalForRun, type OpenApprovalInput, openApprovalRequest } from './open.js';
import { getApproval, listApprovals } from './read.js';

export type { ApprovalsDeps } from './context.js';
export type { OpenApprovalInput } from './open.js';

export type ApprovalService = ReturnType<typeof createApprovalService>;

/**
 * Approval requests, votes and standing grants. Runs call `openApprovalRequest`,
 * `takeStandingGrant` and `cancelApprovalForRun` inside their own transaction;
 * people decide through `decide`; the sweep calls `expireDue`.
 */
export function createApprovalService(deps: ApprovalsDeps) {
  const ctx: ApprovalsContext = deps;
  return {
    listApprovals: (access: AccountAccess, query: unknown) => listApprovals(ctx, access, query),
    openApprovalRequest: (trx: Tx, input: OpenApprovalInput) =>
      openApprovalRequest(ctx, trx, input),
    cancelApprovalForRun: (trx: Tx, runId: string) => cancelApprovalForRun(ctx, trx, runId),
    /** Consumes one use of a matching standing grant in the run's transaction. */
    takeStandingGrant: (trx: Tx, match: GrantMatch) => takeStandingGrant(trx, match, ctx.clock),
    decide: (access: AccountAccess, requestId: string, body: unknown, context: RequestContext) =>
      decide(ctx, access, requestId, body, context),
    getApproval: (access: AccountAccess, id: string) => getApproval(ctx, access, id),
    /** Expires overdue requests, each in its own transaction on `executor`; returns how many. */
    expireDue: (executor: Kysely<Database> = ctx.db, limit = 500) =>
      expireDue(ctx, executor, limit),
  };
}
