import { type JsonValue, parseStrictJson } from '@emisar/protocol';
import type { RunRow } from './transitions.js';

/** A run as the API shows it: never the sealed arguments, only their redacted form. */
export function runView(run: RunRow) {
  return {
    id: run.id,
    request_id: run.request_id,
    operation_id: run.operation_id,
    status: run.status,
    status_reason: run.status_reason,
    action_id: run.action_id,
    runner_id: run.runner_id,
    runner_ref: run.runner_ref,
    pack_ref: run.pack_ref,
    risk: run.risk,
    source: run.source,
    requested_by: run.requested_by,
    api_key_id: run.api_key_id,
    reason: run.reason,
    evidence: run.evidence,
    expected: run.expected,
    args: jsonOf(run.args_redacted),
    args_sha256: run.args_sha256,
    sensitive_arg_names: run.sensitive_arg_names,
    opts: run.opts,
    policy: run.policy_snapshot,
    queued_at: run.queued_at,
    sent_at: run.sent_at,
    started_at: run.started_at,
    finished_at: run.finished_at,
    cancel_requested_at: run.cancel_requested_at,
    cancelled_at: run.cancelled_at,
    exit_code: run.exit_code,
    duration_ms: run.duration_ms,
    output: {
      stdout_sha256: run.stdout_sha256,
      stdout_bytes: run.stdout_bytes,
      stderr_sha256: run.stderr_sha256,
      stderr_bytes: run.stderr_bytes,
      stdout_truncated: run.stdout_truncated,
      stderr_truncated: run.stderr_truncated,
      progress_chunks: run.progress_chunks,
      dropped_progress_chunks: run.dropped_progress_chunks,
      complete: run.output_complete,
      events: run.event_count,
    },
    structured_output: run.structured_output === null ? null : jsonOf(run.structured_output),
    executed_command: run.executed_command,
    executed_command_truncated: run.executed_command_truncated,
    redactions: run.redactions,
    local_audit_failed: run.local_audit_failed,
    error_message: run.error_message,
  };
}

export type RunView = ReturnType<typeof runView>;

/** Exact numbers beyond float64 come out as their decimal text (ExactNumber.toJSON). */
function jsonOf(text: string): JsonValue {
  return parseStrictJson(text);
}
