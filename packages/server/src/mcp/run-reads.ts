import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { UUID_PATTERN } from '../core/parse-input.js';
import { isTerminal, type RunRow } from '../runs/index.js';
import type { McpCaller } from './caller.js';
import type { Cursors } from './cursor.js';
import { ToolError } from './envelope.js';
import { findRunner, loadFleetView } from './fleet-view.js';
import { actionId, cursor, duration, packRef, waitMs } from './inputs.js';
import { OPERATION_ID } from './operation-id.js';
import { type RunActionDeps, runsOf } from './run-action.js';
import { PREVIEW_SHARED_MAX, runSummary } from './run-summary.js';
import { defineTool, READ_ANNOTATIONS } from './tool.js';

export interface RunReadDeps extends RunActionDeps {
  cursors: Cursors;
  clock: Clock;
  /** Concurrent `wait_for_run` calls per credential lineage on this node. */
  waits: Map<string, number>;
}

const OPERATION_TTL_MS = 24 * 3_600_000;
const WAITS_PER_LINEAGE = 8;
const DELTA_MAX = 64 * 1024;
const POLL_MS = 500;

const operationId = z.string().regex(OPERATION_ID);
const getOperationInput = z.strictObject({ operation_id: operationId });

/** One operation of this lineage (kept 24 h) and its runs. */
export const getOperationTool = (deps: RunReadDeps) =>
  defineTool({
    name: 'get_operation',
    title: 'Get an operation',
    description:
      'Reads an operation created by run_action with this credential, and its runs. Use it to recover after a transport failure instead of repeating run_action.',
    input: getOperationInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof getOperationInput>) {
      const since = deps.clock.now().getTime() - OPERATION_TTL_MS;
      const runs = (await runsOf(deps, caller, args.operation_id)).filter(
        (run) => Date.parse(run.queued_at) >= since,
      );
      if (runs.length === 0) {
        throw new ToolError(
          'run_not_found',
          'No operation with this id was created by this credential in the last 24 hours.',
        );
      }
      const budget = { left: PREVIEW_SHARED_MAX };
      const summaries = [];
      for (const run of runs.reverse()) summaries.push(await runSummary(deps, caller, run, budget));
      const open = summaries.find((s) => s.next);
      return {
        operation: {
          operation_id: args.operation_id,
          action_id: runs[0]!.action_id,
          pack_ref: runs[0]!.pack_ref,
          created_at: runs[0]!.queued_at,
          runs: summaries,
        },
        next: open?.next ?? null,
      };
    },
  });

const waitInput = z.strictObject({
  run_id: z.string().regex(UUID_PATTERN),
  timeout: duration.default('30s'),
  cursor: cursor.optional(),
});

/**
 * Waits for a run to change state, finish or (with a cursor) print more, up to
 * `timeout`. Never cancels the run.
 */
export const waitForRunTool = (deps: RunReadDeps) =>
  defineTool({
    name: 'wait_for_run',
    title: 'Wait for a run',
    description:
      'Waits up to timeout for a run to change state or finish, then returns it with output previews. With the cursor from an earlier call it returns only the new output since then. Waiting never cancels the run.',
    input: waitInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof waitInput>) {
      const held = deps.waits.get(caller.lineageId) ?? 0;
      if (held >= WAITS_PER_LINEAGE) {
        throw new ToolError(
          'wait_saturated',
          `At most ${WAITS_PER_LINEAGE} waits may run at once per credential; retry shortly.`,
          { retryable: true },
        );
      }
      deps.waits.set(caller.lineageId, held + 1);
      try {
        return await waitForRun(deps, caller, args);
      } finally {
        const left = (deps.waits.get(caller.lineageId) ?? 1) - 1;
        if (left > 0) deps.waits.set(caller.lineageId, left);
        else deps.waits.delete(caller.lineageId);
      }
    },
  });

async function waitForRun(deps: RunReadDeps, caller: McpCaller, args: z.infer<typeof waitInput>) {
  const binding = {
    caller: caller.lineageId,
    tool: 'wait_for_run',
    filters: { run_id: args.run_id },
  };
  const afterSeq = args.cursor ? Number(deps.cursors.decode(binding, args.cursor).seq ?? 0) : null;
  const first = await readRun(deps, caller, args.run_id);
  const deadline = Date.now() + waitMs(args.timeout);
  let run = first;
  for (;;) {
    if (afterSeq !== null) {
      const delta = await outputDelta(deps, caller, run, afterSeq);
      if (delta.output.length > 0 || isTerminal(run.status)) {
        return {
          run_id: run.id,
          status: run.status,
          ...delta,
          cursor: deps.cursors.encode(binding, { seq: delta.seq }),
        };
      }
    }
    const remaining = deadline - Date.now();
    if (run.status !== first.status || isTerminal(run.status) || remaining <= 0) break;
    await deps.runs.get(caller.access, run.id, Math.min(POLL_MS, remaining));
    run = await readRun(deps, caller, args.run_id);
  }
  if (afterSeq !== null) {
    return {
      run_id: run.id,
      status: run.status,
      output: [],
      output_complete: Boolean(run.output_complete),
      cursor: deps.cursors.encode(binding, { seq: afterSeq }),
    };
  }
  const summary = await runSummary(deps, caller, run, { left: PREVIEW_SHARED_MAX });
  const end = await deps.runs.output(caller.access, run.id, 0, 1);
  const seq = await lastSeq(deps, caller, run.id, end.next_after_seq);
  return {
    run: summary,
    cursor: deps.cursors.encode(binding, { seq }),
    next: summary.next ?? null,
  };
}

/** The seq of the last output chunk so far (deltas continue after it). */
async function lastSeq(deps: RunReadDeps, caller: McpCaller, runId: string, from: number) {
  let seq = from;
  for (;;) {
    const page = await deps.runs.output(caller.access, runId, seq, 1000);
    if (page.chunks.length === 0) return seq;
    seq = page.next_after_seq;
  }
}

async function outputDelta(deps: RunReadDeps, caller: McpCaller, run: RunRow, afterSeq: number) {
  const page = await deps.runs.output(caller.access, run.id, afterSeq, 500);
  const output: { stream: string; text: string }[] = [];
  let bytes = 0;
  let seq = afterSeq;
  for (const chunk of page.chunks) {
    const size = Buffer.byteLength(chunk.data);
    if (bytes + size > DELTA_MAX && output.length > 0) break;
    output.push({ stream: chunk.stream ?? 'stdout', text: chunk.data });
    bytes += size;
    seq = chunk.seq;
  }
  return {
    output,
    seq,
    output_complete: page.done && seq === page.next_after_seq && Boolean(run.output_complete),
  };
}

async function readRun(deps: RunReadDeps, caller: McpCaller, runId: string): Promise<RunRow> {
  try {
    return await deps.runs.get(caller.access, runId);
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'not_found') {
      throw new ToolError('run_not_found', 'No run with this id is visible to you.');
    }
    throw error;
  }
}

const recentInput = z
  .strictObject({
    operation_id: operationId.optional(),
    runner_ref: z.string().min(1).max(300).optional(),
    action_id: actionId.optional(),
    pack_ref: packRef.optional(),
    scope: z.enum(['own', 'account']).default('own'),
    limit: z.number().int().min(1).max(100).default(20),
    cursor: cursor.optional(),
  })
  .superRefine((value, ctx) => {
    const filtered = value.runner_ref ?? value.action_id ?? value.pack_ref;
    if (value.operation_id !== undefined && filtered !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['operation_id'], message: 'exclusive' });
    }
  });

/** The newest runs of this credential lineage (or, with scope account, of everything the member reaches). */
export const recentRunsTool = (deps: RunReadDeps) =>
  defineTool({
    name: 'recent_runs',
    title: 'Recent runs',
    description:
      'Lists recent runs, newest first: by default those this credential started; with scope "account", every run you can see. Filter by operation, runner, action or pack.',
    input: recentInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof recentInput>) {
      const { cursor: given, limit, ...filters } = args;
      const binding = {
        caller: caller.lineageId,
        tool: 'recent_runs',
        filters: JSON.parse(JSON.stringify(filters)),
      };
      const before = given ? deps.cursors.decode(binding, given) : undefined;
      let runnerId: string | undefined;
      if (args.runner_ref !== undefined) {
        runnerId = findRunner(await loadFleetView(deps, caller), args.runner_ref)?.id;
        if (!runnerId) return { runs: [], next_cursor: null };
      }
      const { account } = caller.access;
      const page = await deps.runs.list(caller.access, {
        runnerId,
        actionId: args.action_id,
        packRef: args.pack_ref,
        operationId: args.operation_id,
        apiKeyIds:
          args.scope === 'own'
            ? await deps.credentials.lineageKeyIds(deps.db, account.id, caller.lineageId)
            : undefined,
        before: before ? { at: String(before.at), id: String(before.id) } : undefined,
        limit,
      });
      const runs = [];
      for (const run of page.runs) runs.push(await runSummary(deps, caller, run, { left: 0 }));
      return {
        runs,
        next_cursor: page.next
          ? deps.cursors.encode(binding, { at: page.next.at, id: page.next.id })
          : null,
      };
    },
  });
