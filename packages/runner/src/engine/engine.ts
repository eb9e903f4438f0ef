import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { clampOpts, renderInvocation, validateArgs } from '@emisar/packs';
import {
  type ActionResultFrame,
  canonicalSha256Hex,
  EXECUTED_COMMAND_MAX_BYTES,
  type JsonObject,
  reasonProblem,
} from '@emisar/protocol';
import type { RunnerConfig } from '../config/config.js';
import type { Containment } from '../exec/cgroup.js';
import { findExecutable } from '../exec/executable.js';
import { StreamCapture, type StreamSummary, utf8Prefix } from '../exec/output.js';
import { runProcess, type Stream } from '../exec/process.js';
import { lookupUser, type Setpriv } from '../exec/setpriv.js';
import { errorMessage } from '../fs-util.js';
import type { Journal, JournalEvent } from '../journal/journal.js';
import { emptyOutputCounts } from '../state/dispatch-log.js';
import { RedactionSet } from './redaction.js';
import type { Registry } from './registry.js';
import { parseStructuredOutput } from './structured-output.js';

export interface RunRequest {
  /** The control plane's request id (absent for a local `action run`). */
  requestId: string | undefined;
  actionId: string;
  args: JsonObject;
  /** SHA-256 of the exact args bytes as received (or of their canonical JSON locally). */
  argsSha256: string;
  reason: string;
  opts: { timeout?: number; max_stdout_bytes?: number; max_stderr_bytes?: number } | undefined;
}

export interface EngineDeps {
  config: RunnerConfig;
  journal: Journal;
  containment: Containment;
  setpriv: Setpriv | undefined;
  /** Data, config and token dirs: no path argument may land in them. */
  protectedPaths: string[];
  /** Bound on waiting for pipes an escaped process holds (default 2 s). */
  drainMs?: number;
}

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (stream: Stream, text: string) => void;
}

/** The result frame without request id and progress counters (the session fills those). */
export type EngineResult = Omit<
  ActionResultFrame,
  'type' | 'request_id' | 'progress_chunks' | 'dropped_progress_chunks'
>;

/**
 * Step 8 of the dispatch pipeline, also used by `emisar action run`: reason,
 * admission, lookup, validation, render, clamp, script recheck, journal, execute,
 * redact, parse, journal, result. Never throws for a bad request: every refusal is
 * a result.
 */
export async function runAction(
  deps: EngineDeps,
  registry: Registry,
  request: RunRequest,
  hooks: RunHooks = {},
): Promise<EngineResult> {
  const { config, journal } = deps;
  const base = {
    group: config.runner.group ?? 'default',
    runner_id: config.runner.id,
    caller: { control_plane_request_id: request.requestId ?? null },
    action_id: request.actionId,
  };
  // Refusals before execution store the args' hash and the reason, never the arguments.
  const refusalRequest = { args_sha256: request.argsSha256, reason: request.reason };
  const refuse = async (
    eventType: JournalEvent['event_type'],
    status: EngineResult['status'],
    error: string,
    extra: Record<string, unknown> = {},
  ): Promise<EngineResult> => {
    const event_id = await journal
      .append({ event_type: eventType, ...base, ...extra, request: refusalRequest, error })
      .then((r) => r.eventId)
      .catch(() => undefined);
    return {
      ...emptyOutputCounts(),
      status,
      exit_code: null,
      duration_ms: 0,
      ...(event_id ? { event_id } : { local_audit_failed: true }),
    };
  };

  // The control plane asks for more (REASON_MIN_VISIBLE); a local run needs one visible character.
  const badReason = reasonProblem(request.reason, 1);
  if (badReason) return refuse('validation_failed', 'validation_failed', `reason ${badReason}`);
  const entry = registry.actions.get(request.actionId);
  if (!entry) return refuse('dispatch_refused', 'unknown_action', 'unknown action');
  const { pack, action } = entry;
  const packFields = { pack_id: pack.id, metadata: { kind: action.kind, risk: action.risk } };
  const admitted = registry.admission.check(action.id, action.risk);
  if (!admitted.admitted) {
    return refuse('action_blocked_by_admission', 'blocked_by_admission', admitted.why, packFields);
  }

  const validated = validateArgs(action, request.args, {
    mode: 'host',
    protectedPaths: deps.protectedPaths,
  });
  if (!validated.ok) {
    const detail = validated.errors.map((e) => `${e.arg}: ${e.code} (${e.reason})`).join('; ');
    return refuse('validation_failed', 'validation_failed', detail.slice(0, 2048), packFields);
  }
  const values = validated.values;
  const redaction = new RedactionSet(action, values, config.redaction.rules);

  let invocation: ReturnType<typeof renderInvocation>;
  try {
    invocation = renderInvocation(action, values);
  } catch (error) {
    return refuse(
      'validation_failed',
      'validation_failed',
      redaction.text(errorMessage(error)),
      packFields,
    );
  }
  const limits = clampOpts(action, request.opts ?? {});
  const childEnv = buildChildEnv(invocation.env, config.execution.inheritEnv);
  const executedCommand = redaction.text(shellQuote([invocation.file, ...invocation.argv]));
  const executedBytes = Buffer.from(executedCommand);
  const executionRecord = {
    binary: invocation.file,
    argv: invocation.argv.map((arg) => redaction.text(arg)),
    argv_sha256: canonicalSha256Hex(invocation.argv),
    cwd: invocation.cwd,
    env_keys: Object.keys(childEnv).sort(),
    timeout: `${limits.timeoutMs}ms`,
    ...(invocation.scriptSha256 ? { script_sha256: invocation.scriptSha256 } : {}),
    executed_command: executedCommand,
  };
  const executed = {
    executed_command: utf8Prefix(executedBytes, EXECUTED_COMMAND_MAX_BYTES).toString('utf8'),
    executed_command_truncated: executedBytes.length > EXECUTED_COMMAND_MAX_BYTES,
  };

  if (invocation.scriptPath && invocation.scriptSha256) {
    const actual = await sha256File(invocation.scriptPath);
    if (actual !== invocation.scriptSha256) {
      return refuse(
        'dispatch_refused',
        'pack_hash_mismatch',
        'script changed since the pack was loaded',
        packFields,
      );
    }
  }
  const file = await findExecutable(invocation.file, childEnv.PATH ?? '');
  const user = invocation.user === undefined ? undefined : await lookupUser(invocation.user);
  const startProblem =
    file === undefined
      ? `executable ${invocation.file} not found on PATH`
      : invocation.user !== undefined && !user
        ? `user ${invocation.user} does not exist`
        : invocation.user !== undefined && !deps.setpriv
          ? 'action needs user switching: install util-linux setpriv and run the runner as root'
          : invocation.user !== undefined && process.getuid?.() !== 0
            ? `action runs as ${invocation.user}: that needs a runner running as root`
            : undefined;

  const fullRequest = {
    args_sha256: request.argsSha256,
    args_redacted: redaction.maskArgs(request.args),
    reason: request.reason,
  };
  try {
    await journal.append({
      event_type: 'execution_started',
      ...base,
      ...packFields,
      request: fullRequest,
      execution: executionRecord,
    });
  } catch {
    return {
      ...emptyOutputCounts(),
      ...executed,
      status: 'error',
      exit_code: null,
      duration_ms: 0,
      local_audit_failed: true,
    };
  }
  if (startProblem) {
    return finish(deps, base, packFields, fullRequest, executionRecord, executed, {
      status: 'error',
      error: startProblem,
    });
  }

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
    file: file!,
    args: invocation.argv,
    env: childEnv,
    cwd: invocation.cwd,
    user,
    timeoutMs: limits.timeoutMs,
    graceMs,
    drainMs: deps.drainMs ?? 2000,
    containment: deps.containment,
    setpriv: deps.setpriv,
    signal: hooks.signal,
    onData: (stream, chunk) => captures[stream].push(chunk),
  });
  const stdout = captures.stdout.end();
  const stderr = captures.stderr.end();

  let status: EngineResult['status'];
  let error: string | undefined;
  if (outcome.startError) {
    status = 'error';
    error = redaction.text(
      /EACCES|EPERM/.test(outcome.startError)
        ? `permission denied starting ${invocation.file}: the runner's user (uid ${process.getuid?.()}) may not execute it; grant it execute permission (group membership) or run the runner as a user that can`
        : outcome.startError,
    );
  } else if (outcome.timedOut) status = 'timed_out';
  else if (outcome.cancelled) status = 'cancelled';
  else if (
    outcome.exitCode === 0 ||
    (outcome.exitCode !== null && action.execution.successExitCodes.includes(outcome.exitCode))
  )
    status = 'success';
  else status = 'failed';

  let structured: { value?: JsonObject; error?: string } = {};
  if (action.output.parser === 'json' && (status === 'success' || status === 'failed')) {
    structured = parseStructuredOutput(action, captures.stdout.text(), stdout.truncated);
    if (structured.error && action.output.parserRequired) {
      status = 'validation_failed';
      error = structured.error;
    }
  }

  return finish(deps, base, packFields, fullRequest, executionRecord, executed, {
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
  });
}

interface Finish {
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

async function finish(
  deps: EngineDeps,
  base: Record<string, unknown>,
  packFields: Record<string, unknown>,
  request: Record<string, unknown>,
  executionRecord: Record<string, unknown>,
  executed: { executed_command: string; executed_command_truncated: boolean },
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
  const eventId = await deps.journal
    .append({
      event_type: eventType,
      ...base,
      ...packFields,
      request,
      execution: {
        ...executionRecord,
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
    ...executed,
    status: f.status,
    exit_code: f.exitCode ?? null,
    duration_ms: f.durationMs ?? 0,
    redactions: f.redactions ?? [],
    ...(f.structured ? { structured_output: f.structured } : {}),
    ...(eventId ? { event_id: eventId } : { local_audit_failed: true }),
  };
}

/** The action's env (sorted) plus allowlisted names from the runner's own environment. */
export function buildChildEnv(
  actionEnv: Record<string, string>,
  inherit: string[],
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of inherit) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  for (const name of Object.keys(actionEnv).sort()) env[name] = actionEnv[name]!;
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A readable command line for people (never executed). */
export function shellQuote(argv: string[]): string {
  return argv
    .map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

async function sha256File(path: string): Promise<string | undefined> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch {
    return undefined;
  }
}
