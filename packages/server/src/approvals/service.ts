import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { type AuditEventInput, recordAuditEvent } from '../audit/record.js';
import { recentlyAuthenticated } from '../auth/sessions.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AccountAccess } from '../core/access.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import {
  ConflictError,
  ForbiddenError,
  InvalidParamsError,
  NotFoundError,
} from '../core/errors.js';
import { encodeKeysetCursor } from '../core/keyset-cursor.js';
import { approverText, parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import { notifyRunnerWork } from '../fleet/runner-work.js';
import type { ApprovalMailMessage } from '../mail/approval-mail.js';
import type { MailOutbox } from '../mail/outbox.js';
import {
  createStandingGrant,
  type GrantMatch,
  grantLifetimeSeconds,
  grantOptionsSchema,
  takeStandingGrant,
} from './grants.js';
import { decidersOf, isRequester, mayDecide, maySee, visibleTo } from './reach.js';
import { fleetReleaseChecks, type ReleaseChecks, refusalAtRelease } from './release-checks.js';
import type { RunRelease } from './run-release.js';
import type { ApprovalRequestsTable, ApprovalVote } from './tables.js';
import { approvalView, listSchema } from './views.js';

export type ApprovalRow = Selectable<ApprovalRequestsTable>;

/** What the runs domain hands over when policy says `require_approval` (issue-5 contract). */
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

export interface ApprovalsDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  outbox: MailOutbox;
  baseUrl: string;
  runRelease: RunRelease;
  /** `APPROVAL_TTL`. */
  approvalTtlMs: number;
  checks?: ReleaseChecks;
}

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

export type ApprovalService = ReturnType<typeof createApprovalService>;

/**
 * Approval requests, votes and standing grants. Runs call `openApprovalRequest`,
 * `takeStandingGrant` and `cancelApprovalForRun` inside their own transaction;
 * people decide through `decide`; the sweep calls `expireDue`.
 */
export function createApprovalService(deps: ApprovalsDeps) {
  const { db, clock, bus, outbox, runRelease } = deps;
  const checks = deps.checks ?? fleetReleaseChecks;

  const approvalLink = (slug: string, id: string) =>
    `${deps.baseUrl}/app/${encodeURIComponent(slug)}/approvals/${id}`;

  async function accountOf(trx: Tx, accountId: string) {
    return trx
      .selectFrom('accounts')
      .select(['slug', 'name', 'settings'])
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
  }

  async function emailOf(trx: Kysely<Database>, userId: string | null): Promise<string | null> {
    if (!userId) return null;
    const row = await trx
      .selectFrom('users')
      .select('email')
      .where('id', '=', userId)
      .executeTakeFirst();
    return row?.email ?? null;
  }

  /** The fields a run knows that the caller did not pass (risk, redacted args). */
  async function runFacts(trx: Tx, input: OpenApprovalInput) {
    if (input.risk !== undefined && input.argsRedacted !== undefined) {
      return { risk: input.risk, argsRedacted: input.argsRedacted };
    }
    const run = await trx
      .selectFrom('runs')
      .select(['risk', 'args_redacted'])
      .where('account_id', '=', input.accountId)
      .where('id', '=', input.runId)
      .executeTakeFirst();
    return {
      risk: input.risk ?? run?.risk ?? null,
      argsRedacted:
        input.argsRedacted !== undefined ? input.argsRedacted : (run?.args_redacted ?? null),
    };
  }

  async function publish(trx: Tx, accountId: string, id: string) {
    await publishAccountEvent(bus, trx, { accountId, kind: 'approval', id });
  }

  /**
   * Parks a run: the request row, an email to every member who could decide
   * it (except the requester) and `approval.requested`, in the run's
   * transaction.
   */
  async function openApprovalRequest(
    trx: Tx,
    input: OpenApprovalInput,
  ): Promise<{ id: string; expiresAt: string }> {
    const runner = await checks.runner(trx, input.accountId, input.context.runnerId);
    const facts = await runFacts(trx, input);
    const expiresAt = new Date(clock.now().getTime() + deps.approvalTtlMs).toISOString();
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
        expires_at: expiresAt,
        created_at: clock.now().toISOString(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();

    const account = await accountOf(trx, input.accountId);
    const requester = (await emailOf(trx, input.requestedByUserId)) ?? 'An API key';
    const deciders = await decidersOf(trx, input.accountId, row, input.requestedByUserId);
    const message: ApprovalMailMessage = {
      template: 'approval_needed',
      workspace: account.name,
      requester,
      actionId: row.action_id,
      runner: runner?.name ?? row.runner_id,
      risk: row.risk,
      reason: row.reason,
      evidence: row.evidence,
      expected: row.expected,
      argsRedacted: facts.argsRedacted,
      minApprovals: row.min_approvals,
      expiresAt: row.expires_at,
      link: approvalLink(account.slug, row.id),
    };
    for (const decider of deciders) {
      await outbox.enqueue(trx, { accountId: input.accountId, to: decider.email, message });
    }
    await publish(trx, input.accountId, row.id);
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
        notified: deciders.length,
      },
    });
    return { id: row.id, expiresAt: row.expires_at };
  }

  /** Cancelling a parked run cancels its request (no-op when none is pending). */
  async function cancelApprovalForRun(trx: Tx, runId: string): Promise<boolean> {
    const row = await trx
      .updateTable('approval_requests')
      .set({ status: 'cancelled', decided_at: clock.now().toISOString() })
      .where('run_id', '=', runId)
      .where('status', '=', 'pending')
      .returning(['id', 'account_id', 'action_id'])
      .executeTakeFirst();
    if (!row) return false;
    await publish(trx, row.account_id, row.id);
    await recordAuditEvent(trx, {
      accountId: row.account_id,
      eventType: 'approval.cancelled',
      actor: { kind: 'system', id: null, label: 'run cancelled' },
      target: { kind: 'approval_request', id: row.id, label: row.action_id },
      payload: { run_id: runId },
    });
    return true;
  }

  async function lockRequest(trx: Tx, accountId: string, id: string) {
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
  async function followRunnerGroup(trx: Tx, request: ApprovalRow) {
    const runner = await checks.runner(trx, request.account_id, request.runner_id);
    if (!runner || runner.group === request.runner_group) return;
    await trx
      .updateTable('approval_requests')
      .set({ runner_group: runner.group })
      .where('id', '=', request.id)
      .execute();
    request.runner_group = runner.group;
  }

  async function notifyRequester(
    trx: Tx,
    request: ApprovalRow,
    outcome: Extract<ApprovalMailMessage, { template: 'approval_outcome' }>['outcome'],
    extra: { decidedBy: string | null; note: string | null; statusReason: string | null },
  ) {
    const to = await emailOf(trx, request.requested_by_user_id);
    if (!to) return;
    const account = await accountOf(trx, request.account_id);
    const runner = await checks.runner(trx, request.account_id, request.runner_id);
    await outbox.enqueue(trx, {
      accountId: request.account_id,
      to,
      message: {
        template: 'approval_outcome',
        workspace: account.name,
        actionId: request.action_id,
        runner: runner?.name ?? request.runner_id,
        outcome,
        ...extra,
        link: approvalLink(account.slug, request.id),
      },
    });
  }

  /** Ends an overdue request: its run is denied with `approval_expired`. */
  async function expire(trx: Tx, request: ApprovalRow): Promise<void> {
    const now = clock.now().toISOString();
    await trx
      .updateTable('approval_requests')
      .set({ status: 'expired', decided_at: now, status_reason: 'approval_expired' })
      .where('id', '=', request.id)
      .execute();
    await runRelease.deny(trx, request.run_id, 'approval_expired');
    await notifyRequester(trx, request, 'expired', {
      decidedBy: null,
      note: null,
      statusReason: null,
    });
    await publish(trx, request.account_id, request.id);
    await recordAuditEvent(trx, {
      accountId: request.account_id,
      eventType: 'approval.expired',
      actor: { kind: 'system', id: null, label: 'approval expiry' },
      target: { kind: 'approval_request', id: request.id, label: request.action_id },
      payload: { run_id: request.run_id, expires_at: request.expires_at },
    });
  }

  /**
   * One person's vote. One deny ends the request; distinct approvals reaching
   * `min_approvals` approve it, and the approving vote re-checks everything
   * before the run is released.
   */
  async function decide(
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
    const userId = principal.userId;
    const accountId = access.account.id;
    const auditBase = { accountId, actor: access.actor, context: context };

    const outcome = await db.transaction().execute(async (trx): Promise<Outcome> => {
      const request = await lockRequest(trx, accountId, requestId);
      if (!request) throw new NotFoundError();
      await followRunnerGroup(trx, request);
      if (!mayDecide(access, request)) throw new NotFoundError();
      const target = { kind: 'approval_request', id: request.id, label: request.action_id };
      if (request.status === 'pending' && request.expires_at <= clock.now().toISOString()) {
        await expire(trx, request);
        return { kind: 'expired' };
      }
      if (request.status === 'expired') {
        throw new ConflictError('This request has expired.', 'approval_expired');
      }
      if (request.status !== 'pending') {
        throw new ConflictError(`This request is already ${request.status}.`, 'approval_closed');
      }
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
      if (REAUTH_RISKS.has(request.risk) && !recentlyAuthenticated(principal, clock)) {
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
      const account = await accountOf(trx, accountId);
      const lifetime = input.grant
        ? grantLifetimeSeconds(input.grant, account.settings.max_grant_lifetime_seconds)
        : null;

      const vote = await trx
        .insertInto('approval_decisions')
        .values({
          account_id: accountId,
          request_id: request.id,
          user_id: userId,
          decision: input.decision as ApprovalVote,
          note: input.note ?? null,
          created_at: clock.now().toISOString(),
        })
        .onConflict((oc) => oc.columns(['request_id', 'user_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!vote)
        throw new ConflictError('You have already voted on this request.', 'already_voted');

      const now = clock.now().toISOString();
      const close = (status: 'approved' | 'denied', statusReason: string | null) =>
        trx
          .updateTable('approval_requests')
          .set({
            status,
            status_reason: statusReason,
            decided_at: now,
            decided_by_user_id: userId,
            decision_note: input.note ?? null,
          })
          .where('id', '=', request.id)
          .execute();
      const decidedBy = access.actor.label;
      const note = input.note ?? null;

      if (input.decision === 'deny') {
        await close('denied', 'approval_denied');
        await runRelease.deny(trx, request.run_id, 'approval_denied');
        await notifyRequester(trx, request, 'denied', { decidedBy, note, statusReason: null });
        await publish(trx, accountId, request.id);
        await recordAuditEvent(trx, {
          ...auditBase,
          eventType: 'approval.denied',
          target,
          payload: { run_id: request.run_id, note },
        });
        return { kind: 'denied' };
      }

      const counted = await trx
        .selectFrom('approval_decisions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('request_id', '=', request.id)
        .where('decision', '=', 'approve')
        .executeTakeFirstOrThrow();
      const approvals = Number(counted.n);
      if (approvals < request.min_approvals) {
        await publish(trx, accountId, request.id);
        await recordAuditEvent(trx, {
          ...auditBase,
          eventType: 'approval.voted',
          target,
          payload: {
            run_id: request.run_id,
            approvals,
            min_approvals: request.min_approvals,
            note,
          },
        });
        return { kind: 'pending', approvals };
      }

      const refusal = await refusalAtRelease(trx, request, { checks, clock });
      if (refusal) {
        await close('denied', refusal);
        await runRelease.deny(trx, request.run_id, refusal);
        await notifyRequester(trx, request, 'refused', {
          decidedBy,
          note,
          statusReason: refusal,
        });
        await publish(trx, accountId, request.id);
        await recordAuditEvent(trx, {
          ...auditBase,
          eventType: 'approval.refused',
          target,
          payload: { run_id: request.run_id, status_reason: refusal, approvals },
        });
        return { kind: 'refused', statusReason: refusal };
      }

      await close('approved', null);
      await runRelease.release(trx, request.run_id);
      let grantId: string | null = null;
      if (input.grant && lifetime !== null && request.api_key_id) {
        const key = await trx
          .selectFrom('api_keys')
          .select('lineage_id')
          .where('id', '=', request.api_key_id)
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow();
        grantId = await createStandingGrant(trx, {
          accountId,
          requestId: request.id,
          createdByUserId: userId,
          apiKeyLineageId: key.lineage_id,
          actionId: request.action_id,
          packRef: request.pack_ref,
          runnerId: request.runner_id,
          argsSha256: input.grant.scope === 'exact_args' ? request.args_sha256 : null,
          maxUses: input.grant.max_uses ?? null,
          expiresAt: new Date(clock.now().getTime() + lifetime * 1000).toISOString(),
        });
      }
      await notifyRequester(trx, request, 'approved', { decidedBy, note, statusReason: null });
      await publish(trx, accountId, request.id);
      const events: AuditEventInput[] = [
        {
          ...auditBase,
          eventType: 'approval.approved',
          target,
          payload: { run_id: request.run_id, approvals, note },
        },
      ];
      if (grantId && input.grant) {
        events.push({
          ...auditBase,
          eventType: 'approval.grant_created',
          target: { kind: 'standing_grant', id: grantId, label: request.action_id },
          payload: {
            run_id: request.run_id,
            duration: input.grant.duration,
            lifetime_seconds: lifetime,
            scope: input.grant.scope,
            max_uses: input.grant.max_uses ?? null,
          },
        });
      }
      for (const event of events) await recordAuditEvent(trx, event);
      return { kind: 'approved', grantId, runnerId: request.runner_id };
    });

    outbox.kick();
    if (outcome.kind === 'expired') {
      throw new ConflictError('This request has expired.', 'approval_expired');
    }
    if (outcome.kind === 'approved') await notifyRunnerWork(bus, db, outcome.runnerId);
    return {
      outcome: outcome.kind,
      ...(outcome.kind === 'refused' ? { status_reason: outcome.statusReason } : {}),
      ...(outcome.kind === 'approved' ? { grant_id: outcome.grantId } : {}),
      approval: await getApproval(access, requestId),
    };
  }

  /** Expires overdue requests, each in its own transaction on `executor`; returns how many. */
  async function expireDue(executor: Kysely<Database> = db, limit = 500): Promise<number> {
    const due = await executor
      .selectFrom('approval_requests')
      .select(['id', 'account_id'])
      .where('status', '=', 'pending')
      .where('expires_at', '<=', clock.now().toISOString())
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    let expired = 0;
    for (const { id, account_id: accountId } of due) {
      const done = await executor.transaction().execute(async (trx) => {
        const request = await lockRequest(trx, accountId, id);
        if (request?.status !== 'pending' || request.expires_at > clock.now().toISOString()) {
          return false;
        }
        await expire(trx, request);
        return true;
      });
      if (done) expired++;
    }
    if (expired) outbox.kick();
    return expired;
  }

  async function viewOf(executor: Kysely<Database>, access: AccountAccess, request: ApprovalRow) {
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

  async function getApproval(access: AccountAccess, id: string) {
    if (!UUID_PATTERN.test(id)) throw new NotFoundError();
    const request = await db
      .selectFrom('approval_requests')
      .selectAll()
      .where('account_id', '=', access.account.id)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!request || !maySee(access, request)) throw new NotFoundError();
    return viewOf(db, access, request);
  }

  /** Newest first, only what the caller may decide (or requested), keyset-paged. */
  async function listApprovals(access: AccountAccess, query: unknown) {
    const { status, limit, cursor } = parseInput(listSchema, query);
    let q = visibleTo(
      db.selectFrom('approval_requests').selectAll().where('account_id', '=', access.account.id),
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
      approvals: await Promise.all(page.map((row) => viewOf(db, access, row))),
      next_cursor:
        rows.length > limit && last
          ? encodeKeysetCursor({ at: last.created_at, id: last.id })
          : null,
    };
  }

  return {
    listApprovals,
    openApprovalRequest,
    cancelApprovalForRun,
    /** Consumes one use of a matching standing grant in the run's transaction. */
    takeStandingGrant: (trx: Tx, match: GrantMatch) => takeStandingGrant(trx, match, clock),
    decide,
    getApproval,
    viewOf,
    expireDue,
  };
}
