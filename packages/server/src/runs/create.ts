import { newRequestId } from '@emisar/protocol';
import type { Kysely } from 'kysely';
import type { ApprovalService } from '../approvals/index.js';
import { recordAuditEvent } from '../audit/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { CatalogQueries } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import type { SecretBox } from '../core/secret-box.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries } from '../fleet/index.js';
import { notifyRunnerWork } from '../fleet/index.js';
import type { DecidePolicy, PolicyOutcome } from '../policy/index.js';
import { checkDispatchable, type Dispatchable } from './dispatchable.js';
import {
  type CreatedRun,
  findByOperation,
  fingerprintOf,
  OperationTaken,
  operationIdOf,
  replay,
} from './operation.js';
import { type CreateRunBody, parseCreateRunBody } from './request.js';
import { appendRunEvents } from './run-events.js';
import type { RunStatus } from './tables.js';
import type { RunRow } from './transitions.js';

export interface CreateRunDeps {
  db: Kysely<Database>;
  bus: NotifyBus;
  clock: Clock;
  box: SecretBox;
  approvals: Pick<ApprovalService, 'openApprovalRequest' | 'takeStandingGrant'>;
  decidePolicy: DecidePolicy;
  fleet: Pick<FleetQueries, 'findRunnerForDispatch' | 'refusedAction'>;
  catalog: Pick<CatalogQueries, 'resolveDispatchContract'>;
}

export interface CreateRunInput {
  access: AccountAccess;
  context: RequestContext;
  /** The exact request body. */
  rawBody: Buffer | string | undefined;
  idempotencyKey: string | undefined;
  /** An operation id the caller already derived (MCP); it replaces the Idempotency-Key. */
  operationId?: string;
  /** The agent's self-reported client (MCP `initialize`), kept with the run and its audit. */
  clientInfo?: ClientInfo | null;
}

export interface ClientInfo {
  name: string;
  version: string;
}

/** A dispatchable request on its way into the runs table. */
interface Creation extends Dispatchable {
  access: AccountAccess;
  context: RequestContext;
  body: CreateRunBody;
  operationId: string;
  fingerprint: string;
  requestId: string;
  apiKey: Extract<AccountAccess['principal'], { kind: 'api_key' }>['key'] | null;
  clientInfo: ClientInfo | null;
  now: string;
}

/** What policy (and a standing grant) made of the request. */
interface Verdict {
  policy: PolicyOutcome;
  status: RunStatus;
  statusReason: string | null;
  grantId: string | null;
}

/**
 * A new run: check it is dispatchable, then decide and record it (one
 * policy decision, the run, its audit events and any approval request or
 * grant use) in one transaction, then announce it after commit.
 */
export async function createRun(deps: CreateRunDeps, input: CreateRunInput): Promise<CreatedRun> {
  return (await createRuns(deps, [input]))[0]!;
}

/**
 * Several runs at once (an agent's fan-out): every one is checked first, then
 * all are decided and recorded in one transaction, so either all exist or
 * none does. A run whose operation already exists is replayed, not re-created.
 */
export async function createRuns(
  deps: CreateRunDeps,
  inputs: readonly CreateRunInput[],
): Promise<CreatedRun[]> {
  const prepared: Prepared[] = [];
  for (const input of inputs) prepared.push(await prepare(deps, input));
  let recorded: RunRow[];
  try {
    recorded = await deps.db.transaction().execute(async (trx) => {
      const rows: RunRow[] = [];
      for (const item of prepared) {
        if (item.kind === 'new') rows.push(await decideAndRecord(deps, trx, item.creation));
      }
      return rows;
    });
  } catch (error) {
    if (!(error instanceof OperationTaken)) throw error;
    return replayAll(deps, inputs, error);
  }
  const created = [...recorded];
  const results = prepared.map((item) =>
    item.kind === 'replay' ? item.replayed : { run: created.shift()!, replayed: false },
  );
  for (const { run, replayed } of results) {
    if (!replayed && run.status === 'pending') {
      await notifyRunnerWork(deps.bus, deps.db, run.runner_id);
    }
  }
  return results;
}

type Prepared = { kind: 'replay'; replayed: CreatedRun } | { kind: 'new'; creation: Creation };

/** The earlier run of a keyed operation, or a checked request ready to record. */
async function prepare(deps: CreateRunDeps, input: CreateRunInput): Promise<Prepared> {
  const { access, context } = input;
  const body = parseCreateRunBody(input.rawBody);
  const operation = input.operationId
    ? { id: input.operationId, keyed: true }
    : operationIdOf(access, input.idempotencyKey);
  const fingerprint = fingerprintOf(body);
  if (operation.keyed) {
    const earlier = await findByOperation(deps.db, access.account.id, operation.id);
    if (earlier) return { kind: 'replay', replayed: replay(earlier, fingerprint) };
  }
  const creation: Creation = {
    ...(await checkDispatchable(deps, access, context, body)),
    access,
    context,
    body,
    operationId: operation.id,
    fingerprint,
    requestId: newRequestId(),
    apiKey: access.principal.kind === 'api_key' ? access.principal.key : null,
    clientInfo: input.clientInfo ?? null,
    now: deps.clock.now().toISOString(),
  };
  return { kind: 'new', creation };
}

/** Another request with the same operation ids committed first: each of ours is its replay. */
async function replayAll(
  deps: CreateRunDeps,
  inputs: readonly CreateRunInput[],
  taken: OperationTaken,
): Promise<CreatedRun[]> {
  const results: CreatedRun[] = [];
  for (const input of inputs) {
    const again = await prepare(deps, input);
    if (again.kind !== 'replay') throw taken;
    results.push(again.replayed);
  }
  return results;
}

async function decideAndRecord(deps: CreateRunDeps, trx: Tx, creation: Creation) {
  const verdict = await decide(deps, trx, creation);
  const run = await insertRun(deps, trx, creation, verdict);
  const transition = { from: null, to: verdict.status, status_reason: verdict.statusReason };
  await appendRunEvents(
    trx,
    run,
    [{ kind: 'transition', payload: JSON.stringify(transition) }],
    creation.now,
  );
  if (verdict.status === 'pending_approval') {
    await parkForApproval(deps, trx, creation, { run, policy: verdict.policy });
  }
  await auditRequested(trx, creation, run, verdict);
  await publishAccountEvent(deps.bus, trx, {
    accountId: creation.access.account.id,
    kind: 'run',
    id: run.id,
  });
  return run;
}

/** Deny, allow, or park for approval unless a standing grant of the API key covers it. */
async function decide(deps: CreateRunDeps, trx: Tx, creation: Creation): Promise<Verdict> {
  const { runner, contract, body, apiKey } = creation;
  const accountId = creation.access.account.id;
  const policy = await deps.decidePolicy(trx, {
    accountId,
    runner: { id: runner.id, group: runner.group },
    actionId: body.actionId,
    risk: contract.descriptor.risk,
    viaAgent: apiKey !== null,
  });
  if (policy.decision === 'deny') {
    const statusReason = policy.statusReason ?? 'policy_denied';
    return { policy, status: 'denied', statusReason, grantId: null };
  }
  if (policy.decision !== 'require_approval') {
    return { policy, status: 'pending', statusReason: null, grantId: null };
  }
  const grantId = apiKey
    ? await deps.approvals.takeStandingGrant(trx, {
        accountId,
        apiKeyLineageId: apiKey.lineageId,
        actionId: body.actionId,
        packRef: contract.packRef,
        runnerId: runner.id,
        argsSha256: creation.args.sha256,
      })
    : null;
  return { policy, status: grantId ? 'pending' : 'pending_approval', statusReason: null, grantId };
}

async function insertRun(
  deps: CreateRunDeps,
  trx: Tx,
  creation: Creation,
  verdict: Verdict,
): Promise<RunRow> {
  const { access, context, body, runner, contract, args, requestId, now } = creation;
  const { status } = verdict;
  const run = await trx
    .insertInto('runs')
    .values({
      account_id: access.account.id,
      request_id: requestId,
      operation_id: creation.operationId,
      request_fingerprint: creation.fingerprint,
      action_id: body.actionId,
      runner_id: runner.id,
      runner_ref: runner.ref,
      pack_id: contract.packId,
      pack_version: contract.version,
      pack_ref: contract.packRef,
      expected_pack_hash: contract.hash,
      risk: contract.descriptor.risk,
      source: creation.apiKey ? 'mcp' : 'operator',
      api_key_id: creation.apiKey?.keyId ?? null,
      requested_by: access.membership.user_id,
      membership_id: access.membership.id,
      reason: body.reason,
      evidence: body.evidence,
      expected: body.expected,
      args_ciphertext: status === 'denied' ? null : deps.box.seal(args.text, requestId),
      args_redacted: args.redacted,
      args_sha256: args.sha256,
      args_bytes: args.bytes,
      sensitive_arg_names: JSON.stringify(args.sensitiveNames),
      opts: body.opts ? JSON.stringify(body.opts) : null,
      client_info: creation.clientInfo ? JSON.stringify(creation.clientInfo) : null,
      ip_address: context.ip || null,
      user_agent: context.userAgent,
      policy_snapshot: JSON.stringify(verdict.policy.snapshot),
      approval_required: verdict.policy.decision === 'require_approval',
      status,
      status_reason: verdict.statusReason,
      action_timeout_ms: actionTimeoutMs(contract.descriptor.limits, body.opts),
      queued_at: now,
      finished_at: status === 'denied' ? now : null,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['account_id', 'operation_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!run) throw new OperationTaken();
  return run;
}

async function parkForApproval(
  deps: CreateRunDeps,
  trx: Tx,
  creation: Creation,
  parked: { run: RunRow; policy: PolicyOutcome },
) {
  const { access, body, runner, contract, args } = creation;
  await deps.approvals.openApprovalRequest(trx, {
    accountId: access.account.id,
    runId: parked.run.id,
    requestedByUserId: access.membership.user_id,
    apiKeyId: creation.apiKey?.keyId ?? null,
    reason: body.reason,
    evidence: body.evidence,
    expected: body.expected,
    context: {
      runnerId: runner.id,
      actionId: body.actionId,
      argsSha256: args.sha256,
      packRef: contract.packRef,
    },
    approval: parked.policy.approval,
    risk: contract.descriptor.risk,
    argsRedacted: args.redacted,
  });
}

/** `run.requested`, and `run.denied` when policy refused it. */
async function auditRequested(trx: Tx, creation: Creation, run: RunRow, verdict: Verdict) {
  const { access, context, body, requestId } = creation;
  const common = {
    accountId: access.account.id,
    actor: access.actor,
    target: { kind: 'run', id: run.id, label: body.actionId },
    context,
  };
  await recordAuditEvent(trx, {
    ...common,
    eventType: 'run.requested',
    payload: {
      request_id: requestId,
      action_id: body.actionId,
      runner_id: creation.runner.id,
      pack_ref: creation.contract.packRef,
      args_sha256: creation.args.sha256,
      source: run.source,
      client: creation.clientInfo ? { ...creation.clientInfo } : null,
      status: verdict.status,
      decision: verdict.policy.decision,
      matched_rule: verdict.policy.snapshot.matched_rule,
      standing_grant_id: verdict.grantId,
    },
  });
  if (verdict.status === 'denied') {
    await recordAuditEvent(trx, {
      ...common,
      eventType: 'run.denied',
      payload: { request_id: requestId, status_reason: verdict.statusReason },
    });
  }
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
