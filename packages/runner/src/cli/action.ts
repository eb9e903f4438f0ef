import { createHash } from 'node:crypto';
import type { ActionDefinition } from '@emisar/packs';
import {
  canonicalJson,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  parseStrictJson,
  reasonProblem,
  reasonRuleMessage,
} from '@emisar/protocol';
import type { Command } from 'commander';
import { parseConfigDuration } from '../config/duration.js';
import { runAction } from '../engine/engine.js';
import { loadRegistry, type Registry } from '../engine/registry.js';
import { buildRunnerState, checkAvailability } from '../engine/state.js';
import { detectIsolation, engineDeps, openJournal } from '../runtime.js';
import { RUNNER_VERSION } from '../version.js';
import {
  CliError,
  configFor,
  EXIT_FAILURE,
  EXIT_USAGE,
  globals,
  print,
  printJson,
} from './common.js';

export function registerActionCommands(program: Command): void {
  const action = program.command('action').description('loaded actions');

  action
    .command('list')
    .description('list loaded actions (admitted ones are advertised)')
    .action(listActions);

  action
    .command('describe')
    .description('one action, in full (the descriptor the control plane receives)')
    .argument('<id>')
    .action(describeAction);

  action
    .command('run')
    .description('run an action locally, without the cloud (validated, redacted and journaled)')
    .argument('<id>')
    .option(
      '--arg <name=value>',
      'an argument (repeat; repeat a name for array args; name:=JSON for a raw JSON value)',
      collect,
      [],
    )
    .requiredOption('--reason <text>', 'why you run it (journaled)')
    .option('--timeout <duration>', 'e.g. 30s (clamped to the action bounds)')
    .option('--stream', 'print output as it arrives')
    .action(runActionLocally);
}

async function listActions(_opts: unknown, command: Command): Promise<void> {
  const config = await configFor(command);
  const registry = await loadRegistry(config);
  const rows = [...registry.actions.values()].map(({ pack, action: a }) => {
    const admission = registry.admission.check(a.id, a.risk);
    return {
      id: a.id,
      pack: pack.id,
      risk: a.risk,
      kind: a.kind,
      title: a.title,
      admitted: admission.admitted,
      ...(admission.admitted ? {} : { refused: admission.why }),
    };
  });
  if (globals(command).json) return printJson({ actions: rows, degraded_packs: registry.degraded });
  for (const row of rows) {
    print(
      `${row.id.padEnd(40)} ${row.risk.padEnd(8)} ${row.title}${row.admitted ? '' : `  [not admitted: ${row.refused}]`}`,
    );
  }
  for (const d of registry.degraded) print(`degraded pack ${d.pack}: ${d.reason}`);
}

async function describeAction(id: string, _opts: unknown, command: Command): Promise<void> {
  const config = await configFor(command);
  const registry = await loadRegistry(config);
  const entry = registry.actions.get(id);
  if (!entry) throw new CliError(`unknown action ${id}`);
  const state = buildRunnerState(
    config,
    {
      ...registry,
      actions: new Map([[id, entry]]),
      admission: { check: () => ({ admitted: true }) },
    },
    await checkAvailability(
      { ...registry, actions: new Map([[id, entry]]) },
      process.env.PATH ?? '',
    ),
    RUNNER_VERSION,
  );
  printJson({ ...state.actions[0], pack_ref: entry.pack.packRef });
}

async function runActionLocally(id: string, opts: RunOptions, command: Command): Promise<void> {
  const badReason = reasonProblem(opts.reason);
  if (badReason) throw new CliError(`--reason: ${reasonRuleMessage(badReason)}`, EXIT_USAGE);
  const config = await configFor(command);
  const registry = await loadRegistry(config);
  const entry = registry.actions.get(id);
  const args = parseArgOptions(opts.arg, entry?.action);
  let timeoutNs: number | undefined;
  if (opts.timeout !== undefined) {
    const ms = parseConfigDuration(opts.timeout);
    if (!ms) throw new CliError(`--timeout ${opts.timeout} is not a duration`, EXIT_USAGE);
    timeoutNs = ms * 1_000_000;
  }
  const journal = await openJournal(config);
  const json = globals(command).json;
  const output = { stdout: '', stderr: '' };
  try {
    const result = await runAction(
      engineDeps(config, journal, await detectIsolation()),
      registry,
      {
        requestId: undefined,
        actionId: id,
        args,
        argsSha256: createHash('sha256').update(canonicalJson(args)).digest('hex'),
        reason: opts.reason,
        opts: timeoutNs === undefined ? undefined : { timeout: timeoutNs },
      },
      {
        onProgress: (stream, text) => {
          if (opts.stream && !json)
            (stream === 'stdout' ? process.stdout : process.stderr).write(text);
          else output[stream] += text;
        },
      },
    );
    const refused = result.status === 'blocked_by_admission' || result.status === 'unknown_action';
    const refusal = refused ? notAdmitted(registry, id) : undefined;
    if (json) printJson({ ...result, ...refusal, stdout: output.stdout, stderr: output.stderr });
    else {
      process.stdout.write(output.stdout);
      process.stderr.write(output.stderr);
      if (refusal) process.stderr.write(`${refusal.error}: ${refusal.message}\n`);
      process.stderr.write(
        `${result.status}${result.reason ? ` (${result.reason})` : ''}, exit ${result.exit_code ?? '-'}, ` +
          `${result.duration_ms} ms${result.event_id ? `, event ${result.event_id}` : ''}` +
          `${result.local_audit_failed ? ', LOCAL AUDIT FAILED' : ''}\n`,
      );
    }
    if (result.status !== 'success') process.exitCode = EXIT_FAILURE;
  } finally {
    await journal.close();
  }
}

/** Which rule (local admission, or a load rule) refuses the action, as the control plane words it. */
function notAdmitted(registry: Registry, id: string) {
  const entry = registry.actions.get(id);
  const decision = entry && registry.admission.check(id, entry.action.risk);
  const why =
    decision && !decision.admitted
      ? decision.why
      : registry.refused.find((r) => r.id === id)?.reason;
  if (why === undefined) return undefined;
  return { error: 'action_not_admitted', message: `${id} is not admitted on this host: ${why}` };
}

interface RunOptions {
  arg: string[];
  reason: string;
  timeout?: string;
  stream?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * `--arg k=v` values, typed by the action's declaration: booleans from
 * true/false, repeated names of array args as arrays, `k:=<json>` taken as JSON.
 */
export function parseArgOptions(pairs: string[], action: ActionDefinition | undefined): JsonObject {
  const args: JsonObject = {};
  for (const pair of pairs) {
    const raw = /^([A-Za-z_][A-Za-z0-9_]*)(:?=)([\s\S]*)$/.exec(pair);
    if (!raw)
      throw new CliError(
        `--arg ${JSON.stringify(pair.slice(0, 40))} is not name=value`,
        EXIT_USAGE,
      );
    const [, name, op, text] = raw as unknown as [string, string, string, string];
    let value: JsonValue;
    if (op === ':=') {
      try {
        value = parseStrictJson(text);
      } catch {
        throw new CliError(`--arg ${name}:= needs a JSON value`, EXIT_USAGE);
      }
    } else {
      const type = action?.args.find((a) => a.name === name)?.type;
      value = type === 'boolean' && (text === 'true' || text === 'false') ? text === 'true' : text;
      if (type === 'string_array' || type === 'integer_array') {
        const previous = args[name];
        args[name] = Array.isArray(previous) ? [...previous, value] : [value];
        continue;
      }
    }
    if (Object.hasOwn(args, name)) throw new CliError(`--arg ${name} given twice`, EXIT_USAGE);
    args[name] = value;
  }
  if (!isJsonObject(args)) throw new CliError('bad arguments', EXIT_USAGE);
  return args;
}
