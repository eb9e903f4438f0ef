import { grammar, grammarsFor } from './programs/index.js';
import type { El, InterpreterFinding, Machine, Placement, StepContext } from './types.js';

/** A program that runs nothing from its arguments: every element is its own business. */
const FREE = '';

function finding(
  el: El,
  placement: Placement,
  m: Pick<Machine, 'name' | 'via'>,
): InterpreterFinding {
  return {
    arg: el.args[0]!,
    open: el.kind === 'open',
    at: el.at,
    program: m.name,
    via: m.via,
    placement,
    spliced: el.kind === 'open' && el.spliced,
  };
}

/** The machines for the program named by `el` (every shell `sh` may be), or why it cannot be named. */
export function startProgram(el: El, via: string[]): (Machine | InterpreterFinding)[] {
  if (el.kind === 'open' || el.args.length > 0) {
    const by = via[via.length - 1] ?? 'the action';
    return [finding(el, { role: 'program' }, { name: by, via: via.slice(0, -1) })];
  }
  const name = el.text.slice(el.text.lastIndexOf('/') + 1);
  const grammars = grammarsFor(el.text);
  if (grammars.length === 0) return [{ g: FREE, name, via, s: null }];
  return grammars.map(({ key, grammar: g }) => ({ g: key, name, via, s: g.start() }));
}

const context: StepContext = { step: stepMachine, start: startProgram };

/** Feeds one element to a program; several results when its meaning forks. */
export function stepMachine(m: Machine, el: El): (Machine | InterpreterFinding)[] {
  if (m.g === FREE) return [m];
  const out: (Machine | InterpreterFinding)[] = [];
  for (const o of grammar(m.g).step(m.s, el, context)) {
    if ('s' in o) out.push({ ...m, s: o.s });
    else if ('finding' in o) out.push(finding(el, o.finding, m));
    else if ('run' in o) out.push(...startProgram(el, [...m.via, m.name]));
    else if ('machine' in o) out.push(o.machine);
    else out.push(o.found);
  }
  return out;
}
