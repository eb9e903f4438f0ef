import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ClampedOpts, clampOpts, type Invocation, renderInvocation } from '@emisar/packs';
import { canonicalSha256Hex, EXECUTED_COMMAND_MAX_BYTES } from '@emisar/protocol';
import { findExecutable } from '../exec/executable.js';
import { utf8Prefix } from '../exec/output.js';
import { lookupUser, type UnixUser } from '../exec/setpriv.js';
import { errorMessage } from '../fs-util.js';
import type { Admitted } from './admission.js';
import type { RunContext } from './context.js';
import type { Step } from './types.js';

/** Everything needed to start the process, and what the journal and result say about it. */
export interface Prepared {
  invocation: Invocation;
  limits: ClampedOpts;
  childEnv: Record<string, string>;
  file: string | undefined;
  user: UnixUser | undefined;
  /** Why the process cannot start (journaled as an error after execution_started). */
  startProblem: string | undefined;
  /** The request as the journal stores it once execution starts (sensitive args masked). */
  journalRequest: Record<string, unknown>;
  executionRecord: Record<string, unknown>;
  executed: { executed_command: string; executed_command_truncated: boolean };
}

/** Render, clamp, environment, script recheck, executable and user lookup. */
export async function prepare(run: RunContext, admitted: Admitted): Promise<Step<Prepared>> {
  const { deps, request } = run;
  const { action, values, packFields, redaction } = admitted;
  let invocation: Invocation;
  try {
    invocation = renderInvocation(action, values);
  } catch (error) {
    const message = redaction.text(errorMessage(error));
    return {
      ok: false,
      result: await run.refuse('validation_failed', 'validation_failed', message, packFields),
    };
  }
  const limits = clampOpts(action, request.opts ?? {});
  const childEnv = buildChildEnv(invocation.env, deps.config.execution.inheritEnv);
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
      const why = 'script changed since the pack was loaded';
      return {
        ok: false,
        result: await run.refuse('dispatch_refused', 'pack_hash_mismatch', why, packFields),
      };
    }
  }
  const file = await findExecutable(invocation.file, childEnv.PATH ?? '');
  const user = invocation.user === undefined ? undefined : await lookupUser(invocation.user);
  return {
    ok: true,
    value: {
      invocation,
      limits,
      childEnv,
      file,
      user,
      startProblem: startProblem(invocation, file, user, deps.setpriv !== undefined),
      journalRequest: {
        args_sha256: request.argsSha256,
        args_redacted: redaction.maskArgs(request.args),
        reason: request.reason,
      },
      executionRecord,
      executed,
    },
  };
}

function startProblem(
  invocation: Invocation,
  file: string | undefined,
  user: Prepared['user'],
  haveSetpriv: boolean,
): string | undefined {
  if (file === undefined) return `executable ${invocation.file} not found on PATH`;
  if (invocation.user === undefined) return undefined;
  if (!user) return `user ${invocation.user} does not exist`;
  if (!haveSetpriv)
    return 'action needs user switching: install util-linux setpriv and run the runner as root';
  if (process.getuid?.() !== 0)
    return `action runs as ${invocation.user}: that needs a runner running as root`;
  return undefined;
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
