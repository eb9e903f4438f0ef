import { createHash } from 'node:crypto';
import { argSpecsFromDeclared, validateArgs } from '@emisar/packs';
import {
  ARGS_MAX_BYTES,
  canonicalSha256Hex,
  type JsonObject,
  newRequestId,
} from '@emisar/protocol';
import { type Kysely, sql } from 'kysely';
import { takeStandingGrant } from '../approvals/grants.js';
import type { ApprovalService } from '../approvals/service.js';
import { recordAuditEvent } from '../audit/record.js';
import { publishAccountEvent, subscribeAccountEvents } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import { resolveDispatchContract } from '../catalog/dispatch-contract.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import {
  ConflictError,
  type DomainError,
  InvalidParamsError,
  NotFoundError,
} from '../core/errors.js';
import { UUID_PATTERN } from '../core/parse-input.js';
import { packInReach, runnerInReach } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import { findRunnerForDispatch } from '../fleet/queries.js';
import { notifyRunnerWork } from '../fleet/runner-work.js';
import { decidePolicy } from '../policy/decide.js';
import { argsAtRest, createArgsBox } from './args.js';
import { type CreateRunBody, checkReasonFields, parseCreateRunBody } from './request.js';
import { appendRunEvents } from './run-events.js';
import { isTerminal, type RunStatus } from './tables.js';
import { lockRun, type RunRow, transitionRun } from './transitions.js';

export interface RunServiceDeps {
  db: Kysely<Database>;
  bus: NotifyBus;
  clock: Clock;
  secretKey: Buffer;
  approvals: Pick<ApprovalService, 'openApprovalRequest' | 'cancelApprovalForRun'>;
}

export interface CreateRunInput {
  access: AccountAccess;
  context: RequestContext;
  /** The exact request body. */
  rawBody: Buffer | string | undefined;
  idempotencyKey: string | undefined;
}

export interface CreatedRun {
  run: RunRow;
  /** The same Idempotency-Key with the same facts: the earlier run, nothing new. */
  replayed: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Refusals of the dispatch contract that are audited (someone may be probing or a host drifted). */
const AUDITED_REFUSALS: ReadonlySet<string> = new Set([
  'pack_untrusted',
  'pack_retired',
  'action_contract_changed',
]);

class OperationTaken extends Error {}

export type RunService = ReturnType<typeof createRunService>;

export function createRunService(deps: RunServiceDeps) {
  const { db, bus, clock } = deps;
  const box = createArgsBox(deps.secretKey);

  /**
   * A new run: the checks of the spec in order (reason, runner, reach, pack
   * trust, pack reach, executable, arguments), then one policy decision and
   * the run with its audit events (and approval request or grant use) in one
   * transaction; delivery is announced after commit.
   */
  async function create(input: CreateRunInput): Promise<CreatedRun> {
    const { access, context } = input;
    const accountId = access.account.id;
    const body = parseCreateRunBody(input.rawBody);
    const operationId = operationIdOf(access, input.idempotencyKey);
    const fingerprint = fingerprintOf(body);
    if (operationId.keyed) {
      const earlier = await findByOperation(db, accountId, operationId.id);
      if (earlier) return replay(earlier, fingerprint);
    }

    checkReasonFields(body);
    const runner = await findRunnerForDispatch(db, accountId, body.runner);
    if (
      !runner ||
      runner.deleted ||
      !runnerInReach(access.membership.runner_access, { id: runner.id, group: runner.group })
    ) {
      throw new NotFoundError('No such runner.', 'runner_not_found');
    }
    if (runner.disabled) {
      throw new ConflictError('This runner is disabled; enable it to dispatch.', 'runner_disabled');
    }
    const contract = await resolveDispatchContract(db, {
      accountId,
      runnerId: runner.id,
      actionId: body.actionId,
      packRef: body.packRef,
    });
    if (!contract.ok) {
      if (AUDITED_REFUSALS.has(contract.reason)) {
        await db.transaction().execute((trx) =>
          recordAuditEvent(trx, {
            accountId,
            eventType: `dispatch_blocked.${contract.reason}`,
            actor: access.actor,
            target: { kind: 'runner', id: runner.id, label: runner.ref },
            payload: { action_id: body.actionId, pack_ref: body.packRef ?? null },
            context,
          }),
        );
      }
      throw refusal(contract.reason);
    }
    if (!packInReach(access.membership.pack_access, contract.packId)) {
      throw refusal('unknown_action');
    }
    if (!contract.executableAvailable) throw refusal('executable_unavailable');
    const specs = argSpecsFromDeclared(contract.descriptor.args);
    const validation = validateArgs({ args: specs }, body.args, { mode: 'lexical' });
    if (!validation.ok) {
      const details = validation.errors.map((e) => `${e.arg}: ${e.reason} (${e.code})`);
      throw new InvalidParamsError(`Invalid arguments — ${details.join('; ')}.`, 'invalid_args');
    }
    const args = argsAtRest(body.args, specs);
    if (args.bytes > ARGS_MAX_BYTES) {
      throw new InvalidParamsError(`args exceed ${ARGS_MAX_BYTES / 1024} KiB.`, 'args_too_large');
    }

    const requestId = newRequestId();
    const viaAgent = access.principal.kind === 'api_key';
    const apiKey = access.principal.kind === 'api_key' ? access.principal.key : null;
    const now = clock.now().toISOString();
    let created: RunRow;
    try {
      created = await db.transaction().execute(async (trx) => {
        const policy = await decidePolicy(trx, {
          accountId,
          runner: { id: runner.id, group: runner.group },
          actionId: body.actionId,
          risk: contract.descriptor.risk,
          viaAgent,
        });
        let status: RunStatus = 'pending';
        let statusReason: string | null = null;
        let grantId: string | null = null;
        if (policy.decision === 'deny') {
          status = 'denied';
          statusReason = policy.statusReason ?? 'policy_denied';
        } else if (policy.decision === 'require_approval') {
          grantId = apiKey
            ? await takeStandingGrant(
                trx,
                {
                  accountId,
                  apiKeyLineageId: apiKey.lineageId,
                  actionId: body.actionId,
                  packRef: contract.packRef,
                  runnerId: runner.id,
                  argsSha256: args.sha256,
                },
                clock,
              )
            : null;
          if (!grantId) status = 'pending_approval';
        }
        const run = await trx
          .insertInto('runs')
          .values({
            account_id: accountId,
            request_id: requestId,
            operation_id: operationId.id,
            request_fingerprint: fingerprint,
            action_id: body.actionId,
            runner_id: runner.id,
            runner_ref: runner.ref,
            pack_id: contract.packId,
            pack_version: contract.version,
            pack_ref: contract.packRef,
            expected_pack_hash: contract.hash,
            risk: contract.descriptor.risk,
            source: viaAgent ? 'mcp' : 'operator',
            api_key_id: apiKey?.keyId ?? null,
            requested_by: access.membership.user_id,
            membership_id: access.membership.id,
            reason: body.reason,
            evidence: body.evidence,
            expected: body.expected,
            args_ciphertext: status === 'denied' ? null : box.seal(args.text, requestId),
            args_redacted: args.redacted,
            args_sha256: args.sha256,
            args_bytes: args.bytes,
            sensitive_arg_names: JSON.stringify(args.sensitiveNames),
            opts: body.opts ? JSON.stringify(body.opts) : null,
            client_info: null,
            ip_address: context.ip || null,
            user_agent: context.userAgent,
            policy_snapshot: JSON.stringify(policy.snapshot),
            approval_required: policy.decision === 'require_approval',
            status,
            status_reason: statusReason,
            action_timeout_ms: actionTimeoutMs(contract.descriptor.limits, body.opts),
            queued_at: now,
            finished_at: status === 'denied' ? now : null,
            updated_at: now,
          })
          .onConflict((oc) => oc.columns(['account_id', 'operation_id']).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (!run) throw new OperationTaken();
        await appendRunEvents(
          trx,
          run,
          [
            {
              kind: 'transition',
              payload: JSON.stringify({ from: null, to: status, status_reason: statusReason }),
            },
          ],
          now,
        );
        if (status === 'pending_approval') {
          await deps.approvals.openApprovalRequest(trx, {
            accountId,
            runId: run.id,
            requestedByUserId: access.membership.user_id,
            apiKeyId: apiKey?.keyId ?? null,
            reason: body.reason,
            evidence: body.evidence,
            expected: body.expected,
            context: {
              runnerId: runner.id,
              actionId: body.actionId,
              argsSha256: args.sha256,
              packRef: contract.packRef,
            },
            approval: policy.approval,
            risk: contract.descriptor.risk,
            argsRedacted: args.redacted,
          });
        }
        const target = { kind: 'run', id: run.id, label: body.actionId };
        const payload = {
          request_id: requestId,
          action_id: body.actionId,
          runner_id: runner.id,
          pack_ref: contract.packRef,
          args_sha256: args.sha256,
          source: run.source,
          status,
          decision: policy.decision,
          matched_rule: policy.snapshot.matched_rule,
          standing_grant_id: grantId,
        };
        await recordAuditEvent(trx, {
          accountId,
          eventType: 'run.requested',
          actor: access.actor,
          target,
          payload,
          context,
        });
        if (status === 'denied') {
          await recordAuditEvent(trx, {
            accountId,
            eventType: 'run.denied',
            actor: access.actor,
            target,
            payload: { request_id: requestId, status_reason: statusReason },
            context,
          });
        }
        await publishAccountEvent(bus, trx, { accountId, kind: 'run', id: run.id });
        return run;
      });
    } catch (error) {
      if (!(error instanceof OperationTaken)) throw error;
      const earlier = await findByOperation(db, accountId, operationId.id);
      if (!earlier) throw error;
      return replay(earlier, fingerprint);
    }
    if (created.status === 'pending') await notifyRunnerWork(bus, db, created.runner_id);
    return { run: created, replayed: false };
  }

  /** A run the caller may see: in the account and on a runner in their reach. */
  async function findVisible(access: AccountAccess, runId: string): Promise<RunRow> {
    if (!UUID_PATTERN.test(runId)) throw new NotFoundError();
    const row = await visibleRuns(db, access)
      .selectAll('r')
      .where('r.id', '=', runId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError();
    return row;
  }

  /**
   * The run, after waiting up to `waitMs` for it to be terminal. Woken by the
   * run's live event, which arrives from whichever node changed it.
   */
  async function get(
    access: AccountAccess,
    runId: string,
    waitMs = 0,
    /** The caller went away: stop waiting. */
    signal?: AbortSignal,
  ): Promise<RunRow> {
    let run = await findVisible(access, runId);
    if (isTerminal(run.status) || waitMs <= 0) return run;
    let wake = () => {};
    let changed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const stop = await subscribeAccountEvents(bus, (event) => {
      if (event.kind === 'run' && event.id === runId) wake();
    });
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        // Read after subscribing: a change in between is never missed.
        run = await findVisible(access, runId);
        const remaining = deadline - Date.now();
        if (isTerminal(run.status) || remaining <= 0 || signal?.aborted) return run;
        let timer: NodeJS.Timeout | undefined;
        signal?.addEventListener('abort', () => wake(), { once: true });
        await Promise.race([
          changed,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, remaining);
          }),
        ]);
        clearTimeout(timer);
        changed = new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      await stop();
    }
  }

  /** Output chunks after `afterSeq`, in order; `next_after_seq` continues the read. */
  async function output(access: AccountAccess, runId: string, afterSeq: number, limit: number) {
    const run = await findVisible(access, runId);
    const chunks = await db
      .selectFrom('run_events')
      .select(['seq', 'stream', 'payload', 'created_at'])
      .where('run_id', '=', run.id)
      .where('kind', '=', 'progress')
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return {
      run_id: run.id,
      status: run.status,
      chunks: chunks.map((c) => ({
        seq: c.seq,
        stream: c.stream,
        data: c.payload,
        at: c.created_at,
      })),
      next_after_seq: chunks.at(-1)?.seq ?? afterSeq,
      /** No more chunks will come: the run is terminal and this page reached the end. */
      done: isTerminal(run.status) && chunks.length < limit,
      output_complete: run.output_complete,
    };
  }

  async function list(access: AccountAccess, filters: RunListFilters) {
    let query = visibleRuns(db, access).selectAll('r');
    if (filters.status) query = query.where('r.status', '=', filters.status);
    if (filters.runnerId) query = query.where('r.runner_id', '=', filters.runnerId);
    if (filters.actionId) query = query.where('r.action_id', '=', filters.actionId);
    if (filters.before) {
      const { at, id } = filters.before;
      query = query.where((eb) =>
        eb.or([
          eb('r.queued_at', '<', at),
          eb.and([eb('r.queued_at', '=', at), eb('r.id', '<', id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('r.queued_at', 'desc')
      .orderBy('r.id', 'desc')
      .limit(filters.limit + 1)
      .execute();
    const page = rows.slice(0, filters.limit);
    const last = page.at(-1);
    return {
      runs: page,
      next: rows.length > filters.limit && last ? { at: last.queued_at, id: last.id } : null,
    };
  }

  /**
   * Cancel: a run not yet delivered ends at once (its approval request too);
   * a delivered one becomes `cancelling` and the runner is sent `cancel`.
   */
  async function cancel(
    access: AccountAccess,
    context: RequestContext,
    runId: string,
  ): Promise<RunRow> {
    await findVisible(access, runId);
    const now = clock.now().toISOString();
    const run = await db.transaction().execute(async (trx) => {
      const locked = await lockRun(trx, { id: runId });
      if (!locked || locked.account_id !== access.account.id) throw new NotFoundError();
      if (isTerminal(locked.status)) {
        throw new ConflictError('This run has already finished.', 'run_finished');
      }
      if (locked.status === 'cancelling') return locked;
      const common = { actor: access.actor, context, now };
      if (locked.status === 'pending' || locked.status === 'pending_approval') {
        if (locked.status === 'pending_approval') {
          await deps.approvals.cancelApprovalForRun(trx, locked.id);
        }
        return transitionRun(trx, bus, locked, {
          ...common,
          to: 'cancelled',
          statusReason: null,
          patch: { cancel_requested_at: now, cancelled_at: now },
        });
      }
      return transitionRun(trx, bus, locked, {
        ...common,
        to: 'cancelling',
        patch: { cancel_requested_at: now, cancel_sent_generation: null },
      });
    });
    if (run.status === 'cancelling') await notifyRunnerWork(bus, db, run.runner_id);
    return run;
  }

  return { create, get, output, list, cancel };
}

export interface RunListFilters {
  status?: RunStatus | undefined;
  runnerId?: string | undefined;
  actionId?: string | undefined;
  before?: { at: string; id: string } | undefined;
  limit: number;
}

/** The account's runs on runners inside the caller's runner reach. */
function visibleRuns(db: Kysely<Database>, access: AccountAccess) {
  const reach = access.membership.runner_access;
  let query = db.selectFrom('runs as r').where('r.account_id', '=', access.account.id);
  if (reach.mode === 'none') return query.where(sql<boolean>`false`);
  if (reach.mode === 'restricted') {
    query = query.where((eb) =>
      eb.or([
        ...(reach.runner_ids.length > 0 ? [eb('r.runner_id', 'in', reach.runner_ids)] : []),
        ...(reach.groups.length > 0
          ? [
              eb.exists(
                eb
                  .selectFrom('runners as n')
                  .select('n.id')
                  .whereRef('n.id', '=', 'r.runner_id')
                  .where('n.group_name', 'in', reach.groups),
              ),
            ]
          : []),
        eb.val(false),
      ]),
    );
  }
  return query;
}

/** As the runner clamps it: the requested timeout (or the default) inside the action's bounds. */
function actionTimeoutMs(
  limits: { default_timeout: number; timeout_min: number; timeout_max: number },
  opts: CreateRunBody['opts'],
): number {
  const ns = Math.min(
    Math.max(opts?.timeout ?? limits.default_timeout, limits.timeout_min),
    limits.timeout_max,
  );
  return Math.ceil(ns / 1_000_000);
}

function replay(run: RunRow, fingerprint: string): CreatedRun {
  if (run.request_fingerprint !== fingerprint) {
    throw new ConflictError(
      'This Idempotency-Key was used for a different request.',
      'operation_conflict',
    );
  }
  return { run, replayed: true };
}

async function findByOperation(db: Kysely<Database>, accountId: string, operationId: string) {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('operation_id', '=', operationId)
    .executeTakeFirst();
}

/**
 * With an Idempotency-Key the operation id is derived from the caller (a person,
 * or an API key's lineage, so a rotated key keeps its operations) and the key;
 * without one every request is a new operation.
 */
function operationIdOf(
  access: AccountAccess,
  key: string | undefined,
): { id: string; keyed: boolean } {
  if (key === undefined) return { id: `op_${newRequestId().slice(4)}`, keyed: false };
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new InvalidParamsError(
      'Idempotency-Key must be 1 to 255 printable ASCII characters.',
      'invalid_idempotency_key',
    );
  }
  const caller =
    access.principal.kind === 'api_key'
      ? `key:${access.principal.key.lineageId}`
      : `user:${access.principal.userId}`;
  const digest = createHash('sha256').update(`${caller}\n${key}`).digest('hex');
  return { id: `idem_${digest.slice(0, 48)}`, keyed: true };
}

/** The facts of a request: the same operation with other facts is a conflict. */
function fingerprintOf(body: CreateRunBody): string {
  const facts: JsonObject = {
    runner: body.runner,
    action_id: body.actionId,
    pack_ref: body.packRef ?? null,
    args: body.args,
    reason: body.reason,
    evidence: body.evidence,
    expected: body.expected,
    opts: body.opts ? { ...body.opts } : null,
  };
  return canonicalSha256Hex(facts);
}

function refusal(reason: string): DomainError {
  switch (reason) {
    case 'unknown_action':
      return new NotFoundError('This runner offers no such action.', 'unknown_action');
    case 'pack_untrusted':
      return new ConflictError(
        'The pack version this action comes from is not trusted (or this runner drifted from the trusted hash).',
        'pack_untrusted',
      );
    case 'pack_retired':
      return new ConflictError('This pack version is retired.', 'pack_retired');
    case 'action_contract_changed':
      return new ConflictError(
        "The runner's description of this action differs from the trusted one.",
        'action_contract_changed',
      );
    default:
      return new ConflictError(
        "The action's program is not available on this runner.",
        'executable_unavailable',
      );
  }
}
