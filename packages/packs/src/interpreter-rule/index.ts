import type { ArgSpec, ExecutionSpec } from '../types.js';
import { checkEnvironment } from './env.js';
import { explore, TooManyStates } from './explore.js';
import { startProgram } from './machine.js';
import { slotsOf, TooManyRenderings } from './slots.js';
import type { InterpreterFinding, Role } from './types.js';

export type { InterpreterFinding, Placement, Role } from './types.js';

const ROLE_TEXT: Record<Role, string> = {
  data: 'as data',
  code: 'as program text',
  script: 'as the script it runs',
  program: 'as the program to run',
  option: 'where it reads options',
  value: 'as one of its own settings',
  unsure: 'where its position cannot be told',
  sql: 'as the start of a psql command (a leading backslash runs meta-commands such as \\!)',
};

function programText(f: InterpreterFinding): string {
  return f.via.length === 0 ? f.program : `${f.program} (run by ${f.via.join(', then ')})`;
}

/** `argument x (open-ended) reaches bash as program text in argv[2]` and the like. */
export function describeFinding(f: InterpreterFinding, argvName = 'argv'): string {
  const where = `${argvName}[${f.at}]`;
  const kind = f.open ? 'open-ended' : 'a bounded value';
  const what = f.placement.what === undefined ? '' : ` (${f.placement.what})`;
  const role = ROLE_TEXT[f.placement.role];
  if (f.spliced)
    return `argument ${f.arg} (${kind}) is spliced into ${where}, which reaches ${programText(f)} ${role}${what}; an open-ended value may reach it only as a whole argument in a data position, or through execution.env`;
  if (!f.open)
    return `argument ${f.arg} (${kind}) chooses the program ${programText(f)} runs, in ${where}; the program must be written out`;
  return `argument ${f.arg} (${kind}) reaches ${programText(f)} ${role}${what} in ${where}; pass it as a whole argument in a data position (after the program text, or after --), or through execution.env`;
}

/**
 * The interpreter rule: an open-ended value (free text, a number not bounded
 * on both sides, an array of those) may reach a shell, a script interpreter or
 * a program that runs another command only as a whole argv element in a data
 * position, or through `execution.env`; never spliced into a larger element,
 * and never where the program reads code, options, its own settings or the
 * program to run. Command runners are followed into the command they run, and
 * environment variables that programs read as code, options or programs to
 * run (PATH, NODE_OPTIONS, PERL5OPT …) take no open-ended value.
 * Returns why an execution breaks it (the first place in argv order), or
 * undefined.
 */
export function checkInterpreterRule(
  execution: Pick<ExecutionSpec, 'binary' | 'argv' | 'script'> &
    Partial<Pick<ExecutionSpec, 'env'>>,
  args: readonly ArgSpec[],
): string | undefined {
  const environment = checkEnvironment(execution.env ?? {}, args);
  if (environment !== undefined) return environment;
  const script = execution.script !== undefined;
  const program = { kind: 'text' as const, text: execution.binary, at: -1, args: [] };
  const starts = startProgram(program, []).filter((m) => 'g' in m);
  if (starts.every((m) => m.g === '')) return undefined;
  const argvName = 'argv';
  try {
    const slots = slotsOf(execution.argv, args);
    if (script) {
      const path = { kind: 'text' as const, text: `/${execution.script!.path}`, at: -1, args: [] };
      slots.unshift({ kind: 'fixed', choices: [[path]] });
    }
    const [first] = explore(starts, slots);
    return first === undefined ? undefined : describeFinding(first, argvName);
  } catch (err) {
    if (err instanceof TooManyRenderings || err instanceof TooManyStates)
      return `${argvName}[${err.at}] can render in too many ways for emisar to check where its arguments reach ${execution.binary}; simplify it`;
    throw err;
  }
}
