import { argSpecsFromDeclared, validateArgs } from '@emisar/packs';
import { isJsonObject, type JsonObject, type JsonValue, stringifyJson } from '@emisar/protocol';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import type { CredentialQueries } from '../credentials/index.js';
import type { RunRow, RunService } from '../runs/index.js';
import { isTerminal } from '../runs/index.js';
import type { McpCaller } from './caller.js';
import { type Next, ToolError } from './envelope.js';
import { type FleetViewDeps, findRunner, isRunnable, loadFleetView } from './fleet-view.js';
import { actionId, duration, invalidArgs, packRef, runnerRefs, waitMs } from './inputs.js';
import { operationIdFor } from './operation-id.js';
import { PREVIEW_SHARED_MAX, type RunSummaryDeps, runSummary } from './run-summary.js';
import { defineTool } from './tool.js';

export interface RunActionDeps extends FleetViewDeps, RunSummaryDeps {
  clock: Clock;
  runs: Pick<RunService, 'createMany' | 'get' | 'list' | 'output'>;
  credentials: Pick<CredentialQueries, 'lineageKeyIds'>;
}

const ARGS_MAX_BYTES = 32 * 1024;

const runActionInput = z.strictObject({
  action_id: actionId,
  pack_ref: packRef,
  runner_refs: runnerRefs,
  args: z.record(z.string(), z.unknown()),
  reason: z
    .string()
    .min(12)
    .max(2000)
    .refine((r) => r.trim().length > 0, { message: 'blank' }),
  evidence: z.string().max(4000).optional(),
  expected: z.string().max(2000).optional(),
  wait: duration.default('60s'),
});
type RunActionArgs = z.infer<typeof runActionInput>;

/**
 * Runs a declared action on 1–16 runners: the whole fan-out is checked first
 * (nothing is created when any runner is stale), then each run goes through
 * the runs service (policy, approvals, idempotency), then the call waits for
 * allowed runs, never for approval.
 */
export const runActionTool = (deps: RunActionDeps) =>
  defineTool({
    name: 'run_action',
    title: 'Run an action',
    description:
      'Runs a declared action (from find_actions/get_action) with typed arguments and your reason, on one or more runners. Policy decides: a run may be allowed, denied, or wait for a person to approve (then hand the approval URL to the user and follow next). Retrying the same call returns the same operation.',
    input: runActionInput,
    annotations: {
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    },
    async call(caller: McpCaller, args: RunActionArgs) {
      const exactArgs = exactArgsOf(caller, args);
      if (Buffer.byteLength(stringifyJson(exactArgs)) > ARGS_MAX_BYTES) {
        throw invalidArgs('arguments', [{ path: '$.args', code: 'size' }]);
      }
      const operationId = operationIdFor({
        header: caller.operationIdHeader,
        accountId: caller.access.account.id,
        lineageId: caller.lineageId,
        args: args as unknown as JsonValue,
        now: deps.clock.now(),
      });
      const earlier = await runsOf(deps, caller, operationId);
      const runnerIds =
        earlier.length > 0 ? replayTargets(earlier, args) : await preflight(deps, caller, args);
      const created = await createRuns(
        deps,
        caller,
        { ...args, args: exactArgs },
        {
          operationId,
          targets: runnerIds,
        },
      );
      const ms = waitMs(args.wait);
      const settled = await Promise.all(
        created.map((run) =>
          ms > 0 && !isTerminal(run.status) && run.status !== 'pending_approval'
            ? deps.runs.get(caller.access, run.id, ms)
            : run,
        ),
      );
      const budget = { left: PREVIEW_SHARED_MAX };
      const runs = [];
      for (const run of settled) runs.push(await runSummary(deps, caller, run, budget));
      return {
        operation_id: operationId,
        action_id: args.action_id,
        pack_ref: args.pack_ref,
        runs,
      };
    },
  });

/** The action's arguments exactly as sent (a number beyond float64 keeps its digits). */
function exactArgsOf(caller: McpCaller, args: RunActionArgs): JsonObject {
  const exact = caller.exactArguments;
  if (isJsonObject(exact) && isJsonObject(exact.args)) return exact.args;
  return args.args as JsonObject;
}

/** This lineage's runs of the operation (another lineage's operation is not ours to replay). */
export async function runsOf(deps: RunActionDeps, caller: McpCaller, operationId: string) {
  const { account } = caller.access;
  const page = await deps.runs.list(caller.access, {
    operationId,
    apiKeyIds: await deps.credentials.lineageKeyIds(deps.db, account.id, caller.lineageId),
    limit: 100,
  });
  return page.runs;
}

/** A retry names the same runners as the runs it already created, or it is another operation. */
function replayTargets(earlier: RunRow[], args: RunActionArgs): [string, string][] {
  const byRef = new Map(earlier.map((run) => [run.runner_ref, run.runner_id]));
  const refs = args.runner_refs.map((ref) =>
    [...byRef.keys()].find((r) => r === ref || r.split('~')[0] === ref),
  );
  if (refs.some((ref) => ref === undefined) || new Set(refs).size !== byRef.size) throw conflict();
  return refs.map((ref) => [ref!, byRef.get(ref!)!]);
}

/** Every runner connected, in reach, offering the trusted action; the arguments valid for it. */
async function preflight(deps: RunActionDeps, caller: McpCaller, args: RunActionArgs) {
  const view = await loadFleetView(deps, caller);
  const targets: [string, string][] = [];
  for (const ref of args.runner_refs) {
    const runner = findRunner(view, ref);
    const offering = view.offerings.find(
      (o) =>
        o.runnerId === runner?.id && o.actionId === args.action_id && o.packRef === args.pack_ref,
    );
    if (!runner || !offering || !isRunnable(view, offering)) {
      throw stale(args, ref);
    }
    const checked = validateArgs(
      { args: argSpecsFromDeclared(offering.descriptor.args) },
      args.args as JsonObject,
      { mode: 'lexical' },
    );
    if (!checked.ok) {
      throw invalidArgs(
        'action_arguments',
        checked.errors.map((e) => ({ path: `$.args.${e.arg}`, code: e.code })),
      );
    }
    targets.push([runner.ref, runner.id]);
  }
  return targets;
}

/** One run per target, all recorded in one transaction; a refusal maps to its tool error. */
async function createRuns(
  deps: RunActionDeps,
  caller: McpCaller,
  args: RunActionArgs,
  operation: { operationId: string; targets: [string, string][] },
): Promise<RunRow[]> {
  const inputs = operation.targets.map(([ref, runnerId]) => ({
    access: caller.access,
    context: caller.context,
    rawBody: stringifyJson({
      runner: runnerId,
      action_id: args.action_id,
      pack_ref: args.pack_ref,
      args: args.args as JsonObject,
      reason: args.reason,
      evidence: args.evidence ?? null,
      expected: args.expected ?? null,
    }),
    idempotencyKey: undefined,
    operationId: `${operation.operationId}/${ref}`,
    clientInfo: caller.clientInfo,
  }));
  try {
    return (await deps.runs.createMany(inputs)).map((created) => created.run);
  } catch (error) {
    throw toolErrorOf(error, args);
  }
}

function toolErrorOf(error: unknown, args: RunActionArgs): unknown {
  if (!(error instanceof DomainError)) return error;
  if (error.id === 'operation_conflict') return conflict();
  if (error.kind === 'invalid') {
    const path = error.id === 'invalid_reason' ? '$.reason' : '$.args';
    return invalidArgs(path === '$.reason' ? 'arguments' : 'action_arguments', [
      { path, code: error.id },
    ]);
  }
  if (error.kind === 'not_found' || error.kind === 'conflict') return stale(args);
  if (error.kind === 'forbidden') {
    return new ToolError('not_allowed', 'Your role or key does not allow running actions here.');
  }
  return new ToolError('dispatch_failed', 'The run could not be created; try again shortly.', {
    retryable: true,
  });
}

const getActionNext = (args: RunActionArgs): Next => ({
  tool: 'get_action',
  arguments: { action_id: args.action_id, pack_ref: args.pack_ref },
});

function stale(args: RunActionArgs, ref?: string): ToolError {
  const runner = ref ? `Runner ${ref.slice(0, 300)}` : 'A runner';
  return new ToolError(
    'target_contract_changed',
    `${runner} is not connected, not in your reach, or no longer offers this action from this trusted pack version. Nothing was run; read the action again.`,
    { retryable: true, next: getActionNext(args) },
  );
}

const conflict = () =>
  new ToolError(
    'operation_conflict',
    'This operation id was already used for a different request. Nothing new was run; use get_operation to see it.',
  );
