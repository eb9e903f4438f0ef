import type { ApprovalQueries } from '../approvals/index.js';
import type { Db } from '../core/tx.js';
import { isTerminal, type RunRow, type RunService } from '../runs/index.js';
import type { McpCaller } from './caller.js';
import type { Next } from './envelope.js';

export interface RunSummaryDeps {
  db: Db;
  baseUrl: string;
  runs: Pick<RunService, 'output'>;
  approvals: Pick<ApprovalQueries, 'approvalForRun'>;
}

const PREVIEW_MAX = 16 * 1024;
export const PREVIEW_SHARED_MAX = 64 * 1024;
const OUTPUT_PAGE = 1000;

/** One fixed sentence per status: never raw runner text. */
const STATUS_SENTENCES: Record<string, string> = {
  failed: 'The action ran and exited with a non-zero status.',
  error: 'The runner could not complete the action.',
  validation_failed: 'The runner refused the arguments.',
  unknown_action: 'The runner does not offer this action any more.',
  timed_out: 'The action did not finish within its timeout.',
  cancelled: 'The run was cancelled.',
  refused: 'The runner refused to run the action.',
  denied: 'Policy denied this run.',
};

/** The MCP operation id of a run: its runs-table operation id is `<operation id>/<runner ref>`. */
export const operationOf = (run: RunRow) => run.operation_id.split('/')[0]!;

/** A run as tools return it, with output previews taken from a shared byte budget. */
export async function runSummary(
  deps: RunSummaryDeps,
  caller: McpCaller,
  run: RunRow,
  budget: { left: number },
) {
  const { slug } = caller.access.account;
  const preview = await outputPreview(deps, caller, run, budget);
  const approval =
    run.status === 'pending_approval'
      ? await deps.approvals.approvalForRun(deps.db, run.account_id, run.id)
      : null;
  const next: Next | undefined = isTerminal(run.status)
    ? undefined
    : { tool: 'wait_for_run', arguments: { run_id: run.id, timeout: '60s' } };
  return {
    run_id: run.id,
    operation_id: operationOf(run),
    action_id: run.action_id,
    pack_ref: run.pack_ref,
    runner_ref: run.runner_ref,
    status: run.status,
    created_at: run.queued_at,
    ...(run.finished_at ? { finished_at: run.finished_at } : {}),
    ...(run.exit_code !== null ? { exit_code: run.exit_code } : {}),
    ...(run.duration_ms !== null ? { duration_ms: run.duration_ms } : {}),
    ...(STATUS_SENTENCES[run.status] ? { error_message: STATUS_SENTENCES[run.status] } : {}),
    stdout_preview: preview.stdout,
    stderr_preview: preview.stderr,
    stdout_bytes: run.stdout_bytes ?? preview.stdoutBytes,
    stderr_bytes: run.stderr_bytes ?? preview.stderrBytes,
    stdout_truncated: Boolean(run.stdout_truncated) || preview.stdoutCut,
    stderr_truncated: Boolean(run.stderr_truncated) || preview.stderrCut,
    output_complete: run.output_complete ?? false,
    ...(run.structured_output !== null
      ? { structured_output: JSON.parse(run.structured_output) as unknown }
      : {}),
    ...(approval
      ? {
          approval: {
            request_id: approval.id,
            url: `${deps.baseUrl}/app/${encodeURIComponent(slug)}/approvals/${approval.id}`,
            expires_at: approval.expiresAt,
          },
          wait_until: approval.expiresAt,
        }
      : {}),
    ...(next ? { next } : {}),
    run_url: `${deps.baseUrl}/app/${encodeURIComponent(slug)}/runs/${run.id}`,
  };
}

/** The tail of each stream, at most 16 KiB each and what is left of the shared budget. */
async function outputPreview(
  deps: RunSummaryDeps,
  caller: McpCaller,
  run: RunRow,
  budget: { left: number },
) {
  const text = { stdout: '', stderr: '' };
  for (let after = 0; budget.left > 0; ) {
    const page = await deps.runs.output(caller.access, run.id, after, OUTPUT_PAGE);
    for (const chunk of page.chunks) {
      if (chunk.stream === 'stdout' || chunk.stream === 'stderr') text[chunk.stream] += chunk.data;
    }
    if (page.chunks.length < OUTPUT_PAGE) break;
    after = page.next_after_seq;
  }
  const stdout = tail(text.stdout, Math.min(PREVIEW_MAX, budget.left));
  budget.left -= Buffer.byteLength(stdout);
  const stderr = tail(text.stderr, Math.min(PREVIEW_MAX, budget.left));
  budget.left -= Buffer.byteLength(stderr);
  return {
    stdout,
    stderr,
    stdoutBytes: Buffer.byteLength(text.stdout),
    stderrBytes: Buffer.byteLength(text.stderr),
    stdoutCut: stdout.length < text.stdout.length,
    stderrCut: stderr.length < text.stderr.length,
  };
}

/** The last `maxBytes` of UTF-8 text, cut on a character boundary. */
export function tail(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}
