import type { JsonObject } from '@emisar/protocol';
import { StreamCapture } from '../exec/output.js';
import { type ProcessOutcome, runProcess, type Stream } from '../exec/process.js';
import { emptyOutputCounts } from '../state/dispatch-log.js';
import type { Admitted } from './admission.js';
import type { RunContext } from './context.js';
import type { Finish } from './finish.js';
import type { Prepared } from './prepare.js';
import { parseStructuredOutput } from './structured-output.js';
import type { EngineResult, RunHooks, Step } from './types.js';

/**
 * Journals execution_started, then runs the process unless preparation found a
 * reason it cannot start. If the start cannot be journaled nothing runs and the
 * run ends with a result saying the local audit failed.
 */
export async function execute(
  run: RunContext,
  admitted: Admitted,
  prepared: Prepared,
  hooks: RunHooks,
): Promise<Step<Finish>> {
  const notStarted = await recordStart(run, admitted, prepared);
  if (notStarted) return { ok: false, result: notStarted };
  const { startProblem } = prepared;
  if (startProblem) return { ok: true, value: { status: 'error', error: startProblem } };
  return { ok: true, value: await runAndJudge(run, admitted, prepared, hooks) };
}

/**
 * Journals execution_started; if that write fails nothing runs and the result
 * says the local audit failed.
 */
async function recordStart(
  run: RunContext,
  admitted: Admitted,
  prepared: Prepared,
): Promise<EngineResult | undefined> {
  try {
    await run.deps.journal.append({
      event_type: 'execution_started',
      ...run.base,
      ...admitted.packFields,
      request: prepared.journalRequest,
      execution: prepared.executionRecord,
    });
    return undefined;
  } catch {
    return {
      ...emptyOutputCounts(),
      ...prepared.executed,
      status: 'error',
      exit_code: null,
      duration_ms: 0,
      local_audit_failed: true,
    };
  }
}

/** Runs the process with both streams captured and redacted, then judges its outcome. */
async function runAndJudge(
  run: RunContext,
  admitted: Admitted,
  prepared: Prepared,
  hooks: RunHooks,
): Promise<Finish> {
  const { config } = run.deps;
  const { action, redaction } = admitted;
  const { invocation, limits } = prepared;
  const captures = {} as Record<Stream, StreamCapture>;
  for (const stream of ['stdout', 'stderr'] as const) {
    captures[stream] = new StreamCapture({
      maxRawBytes: stream === 'stdout' ? limits.maxStdoutBytes : limits.maxStderrBytes,
      previewBytes: config.events.maxPreviewBytes,
      redactor: redaction.streamRedactor(),
      keepText: stream === 'stdout' && action.output.parser === 'json',
      emit: (text) => hooks.onProgress?.(stream, text),
    });
  }
  const graceMs =
    action.execution.cancelGraceNs !== undefined
      ? Number(action.execution.cancelGraceNs / 1_000_000n)
      : config.execution.cancelGraceMs;
  const outcome = await runProcess({
    file: prepared.file!,
    args: invocation.argv,
    env: prepared.childEnv,
    cwd: invocation.cwd,
    user: prepared.user,
    timeoutMs: limits.timeoutMs,
    graceMs,
    drainMs: run.deps.drainMs ?? 2000,
    containment: run.deps.containment,
    setpriv: run.deps.setpriv,
    signal: hooks.signal,
    onData: (stream, chunk) => captures[stream].push(chunk),
  });
  const stdout = captures.stdout.end();
  const stderr = captures.stderr.end();

  let { status, error } = judge(outcome, admitted, invocation.file);
  let structured: { value?: JsonObject; error?: string } = {};
  if (action.output.parser === 'json' && (status === 'success' || status === 'failed')) {
    structured = parseStructuredOutput(action, captures.stdout.text(), stdout.truncated);
    if (structured.error && action.output.parserRequired) {
      status = 'validation_failed';
      error = structured.error;
    }
  }
  return {
    status,
    error,
    exitCode: outcome.exitCode,
    durationMs: Math.round(outcome.durationMs),
    timedOut: outcome.timedOut,
    signal: outcome.exitSignal,
    stdout,
    stderr,
    redactions: redaction.hits(),
    structured: structured.value,
  };
}

/** The status a finished process earns, and the error it reports (redacted). */
function judge(
  outcome: ProcessOutcome,
  { action, redaction }: Admitted,
  file: string,
): { status: EngineResult['status']; error?: string } {
  if (outcome.startError) {
    const error = /EACCES|EPERM/.test(outcome.startError)
      ? `permission denied starting ${file}: the runner's user (uid ${process.getuid?.()}) may not execute it; grant it execute permission (group membership) or run the runner as a user that can`
      : outcome.startError;
    return { status: 'error', error: redaction.text(error) };
  }
  if (outcome.timedOut) return { status: 'timed_out' };
  if (outcome.cancelled) return { status: 'cancelled' };
  const { exitCode } = outcome;
  const succeeded =
    exitCode === 0 || (exitCode !== null && action.execution.successExitCodes.includes(exitCode));
  return { status: succeeded ? 'success' : 'failed' };
}
