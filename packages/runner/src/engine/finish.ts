import type { JsonObject } from '@emisar/protocol';
import type { StreamSummary } from '../exec/output.js';
import { emptyOutputCounts } from '../state/dispatch-log.js';
import type { RunContext } from './context.js';
import type { Prepared } from './prepare.js';
import type { EngineResult } from './types.js';

/** How a run that got as far as execution_started ended. */
export interface Finish {
  status: EngineResult['status'];
  error?: string | undefined;
  exitCode?: number | null;
  durationMs?: number;
  timedOut?: boolean;
  signal?: string | null;
  stdout?: StreamSummary;
  stderr?: StreamSummary;
  redactions?: EngineResult['redactions'];
  structured?: JsonObject | undefined;
}

/** Journals the terminal event and returns the result. */
export async function finish(
  run: RunContext,
  packFields: Record<string, unknown>,
  prepared: Prepared,
  f: Finish,
): Promise<EngineResult> {
  const empty = emptyOutputCounts();
  const out = {
    stdout_sha256: f.stdout?.sha256 ?? empty.stdout_sha256,
    stdout_bytes: f.stdout?.bytes ?? 0,
    stderr_sha256: f.stderr?.sha256 ?? empty.stderr_sha256,
    stderr_bytes: f.stderr?.bytes ?? 0,
    stdout_truncated: f.stdout?.truncated ?? false,
    stderr_truncated: f.stderr?.truncated ?? false,
  };
  const eventType =
    f.status === 'success'
      ? 'execution_completed'
      : f.status === 'cancelled'
        ? 'action_cancelled'
        : 'execution_failed';
  const eventId = await run.deps.journal
    .append({
      event_type: eventType,
      ...run.base,
      ...packFields,
      request: prepared.journalRequest,
      execution: {
        ...prepared.executionRecord,
        exit_code: f.exitCode ?? null,
        ...(f.signal ? { signal: f.signal } : {}),
        duration_ms: f.durationMs ?? 0,
        timed_out: f.timedOut ?? false,
        ...out,
        stdout_raw_bytes: f.stdout?.rawBytes ?? 0,
        stderr_raw_bytes: f.stderr?.rawBytes ?? 0,
        stdout_dropped_sha256: f.stdout?.droppedSha256 ?? null,
        stderr_dropped_sha256: f.stderr?.droppedSha256 ?? null,
        previews: { stdout: f.stdout?.preview ?? '', stderr: f.stderr?.preview ?? '' },
      },
      redactions: f.redactions ?? [],
      ...(f.error ? { error: f.error } : {}),
    })
    .then((r) => r.eventId)
    .catch(() => undefined);
  return {
    ...empty,
    ...out,
    ...prepared.executed,
    status: f.status,
    exit_code: f.exitCode ?? null,
    duration_ms: f.durationMs ?? 0,
    redactions: f.redactions ?? [],
    ...(f.structured ? { structured_output: f.structured } : {}),
    ...(eventId ? { event_id: eventId } : { local_audit_failed: true }),
  };
}
