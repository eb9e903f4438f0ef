import type { ActionDescriptor } from '@emisar/protocol';
import type { ActionDefinition } from './types.js';

export interface ExecutableAvailability {
  available: boolean;
  /** The program that was not found on PATH. */
  missing?: string;
}

/** The model-facing list: a lone `none` means "no side effects". */
export function modelSideEffects(sideEffects: string[]): string[] {
  return sideEffects.length === 1 && sideEffects[0]!.toLowerCase() === 'none' ? [] : sideEffects;
}

/** The runner_state descriptor of one action (wire-protocol.md), including what will execute. */
export function actionDescriptor(
  action: ActionDefinition,
  availability: ExecutableAvailability,
): ActionDescriptor {
  const ex = action.execution;
  const out = action.output;
  const execution: ActionDescriptor['execution'] = {
    binary: ex.binary,
    argv: [...ex.argv],
    env_keys: Object.keys(ex.env).sort(),
    cwd: ex.cwd,
  };
  if (ex.user !== undefined) execution.user = ex.user;
  if (ex.script !== undefined) {
    execution.interpreter = ex.script.interpreter;
    execution.script_path = ex.script.path;
    execution.script_sha256 = ex.script.sha256;
  }
  const output: ActionDescriptor['output'] = {
    parser: out.parser,
    max_stdout_bytes: out.maxStdoutBytes,
    max_stdout_bytes_min: out.maxStdoutBytesMin,
    max_stdout_bytes_max: out.maxStdoutBytesMax,
    max_stderr_bytes: out.maxStderrBytes,
    max_stderr_bytes_min: out.maxStderrBytesMin,
    max_stderr_bytes_max: out.maxStderrBytesMax,
  };
  if (out.schema !== undefined) output.schema = out.schema;
  const descriptor: ActionDescriptor = {
    id: action.id,
    pack_id: action.packId,
    title: action.title,
    summary: action.summary,
    kind: action.kind,
    risk: action.risk,
    description: action.description,
    side_effects: modelSideEffects(action.sideEffects),
    search_terms: [...action.searchTerms],
    args: action.args.map((arg) => arg.declared),
    examples: action.examples.map((ex) => ({ title: ex.title, args: ex.args })),
    primary_executable_available: availability.available,
    limits: {
      default_timeout: Number(ex.timeoutNs),
      timeout_min: Number(ex.timeoutMinNs),
      timeout_max: Number(ex.timeoutMaxNs),
    },
    output,
    execution,
  };
  if (!availability.available && availability.missing !== undefined) {
    descriptor.missing_executable = availability.missing;
  }
  return descriptor;
}
