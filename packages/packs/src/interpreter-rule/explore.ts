import { stepMachine } from './machine.js';
import type { Slot } from './slots.js';
import type { El, InterpreterFinding, Machine } from './types.js';

/** Distinct program states followed at once before the check refuses as unsure. */
export const MAX_STATES = 20_000;

export class TooManyStates extends Error {
  constructor(readonly at: number) {
    super(`argv[${at}] can be read in too many ways`);
  }
}

type States = Map<string, Machine>;

function add(into: States, m: Machine): void {
  into.set(JSON.stringify([m.g, m.name, m.via, m.s]), m);
}

function feed(
  states: Iterable<Machine>,
  el: El,
  into: States,
  findings: InterpreterFinding[],
): void {
  for (const m of states) {
    for (const r of stepMachine(m, el)) {
      if ('g' in r) add(into, r);
      else findings.push(r);
    }
  }
}

function feedSequence(
  states: States,
  seq: El[],
  into: States,
  findings: InterpreterFinding[],
): void {
  let current: Iterable<Machine> = states.values();
  for (const el of seq) {
    const next: States = new Map();
    feed(current, el, next, findings);
    current = next.values();
  }
  for (const m of current) add(into, m);
}

/**
 * Follows every way the slots can render through the programs' grammars and
 * returns where an argument lands somewhere it may not (in argv order).
 */
export function explore(starts: Machine[], slots: Slot[]): InterpreterFinding[] {
  let states: States = new Map();
  for (const m of starts) add(states, m);
  const findings: InterpreterFinding[] = [];
  for (const slot of slots) {
    const next: States = new Map();
    if (slot.kind === 'fixed') {
      for (const choice of slot.choices) feedSequence(states, choice, next, findings);
    } else {
      // Items one by one until no new state appears (or max_items is reached).
      for (const m of states.values()) add(next, m);
      let frontier: States = states;
      for (let count = 0; count < slot.max && frontier.size > 0; count++) {
        const grown: States = new Map();
        for (const item of slot.items) feedSequence(frontier, [item], grown, findings);
        frontier = new Map([...grown].filter(([key]) => !next.has(key)));
        for (const [key, m] of frontier) next.set(key, m);
      }
    }
    const at = slot.kind === 'fixed' ? slot.choices.flat()[0]?.at : slot.items[0]?.at;
    if (next.size > MAX_STATES) throw new TooManyStates(at ?? 0);
    states = next;
  }
  return findings.sort((a, b) => a.at - b.at);
}
