/**
 * Where an argv element lands in the grammar of the program that reads it.
 * Only `data` may carry an open-ended value, and only as a whole element.
 */
export type Role =
  /** An argument the program hands on as data ($1, sys.argv, a file operand). */
  | 'data'
  /** Text the program runs: shell program text, `python -c`, a module to load. */
  | 'code'
  /** A file the program runs as code (a script operand, `-f file`). */
  | 'script'
  /** The program a command runner starts. */
  | 'program'
  /** A position where the program reads options. */
  | 'option'
  /** A setting of the program itself: an option's value, a user, a duration. */
  | 'value'
  /** A position that cannot be told (after an option whose grammar is unknown). */
  | 'unsure'
  /** psql's -c text: a leading backslash makes it a meta-command (`\!` runs a shell). */
  | 'sql';

export interface Placement {
  role: Role;
  /** What the position is, when the role alone does not say (`the value of option -o`). */
  what?: string;
}

/**
 * One rendered argv element, as far as load time can know it: concrete text
 * (a literal, or one rendering of bounded args), or an element carrying an
 * open-ended value, whole or spliced into surrounding text.
 */
export type El =
  | {
      kind: 'text';
      text: string;
      /** Index of the template in the declared argv. */
      at: number;
      /** Bounded args rendered into this text (empty for a literal). */
      args: string[];
    }
  | {
      kind: 'open';
      at: number;
      /** The open-ended args in the element. */
      args: string[];
      spliced: boolean;
      /** Concrete text before the first open-ended value ('' when the element starts with one). */
      prefix: string;
      /** The value can never start with `-` or `+` (an absolute path, a non-negative number). */
      dashSafe: boolean;
    };

/** A program's position in the chain: the name as written and who started it. */
export interface Machine {
  /** Grammar key in the program table. */
  g: string;
  /** The program's basename as written (`python3.12`). */
  name: string;
  /** The command runners that led here, outermost first (`sudo`, `find -exec`). */
  via: string[];
  s: unknown;
}

export interface InterpreterFinding {
  /** The argument that reaches the position (the first one in the element). */
  arg: string;
  /** Whether the argument is open-ended (false: a bounded value choosing a program). */
  open: boolean;
  /** Index of the template in the declared argv. */
  at: number;
  program: string;
  via: string[];
  placement: Placement;
  spliced: boolean;
}

export type Outcome<S> =
  | { s: S }
  | { finding: Placement }
  /** The element is the program a command runner starts. */
  | { run: string }
  /** A grammar that nests another program (find -exec) built the next machine itself. */
  | { machine: Machine }
  | { found: InterpreterFinding };

export interface StepContext {
  step(machine: Machine, el: El): (Machine | InterpreterFinding)[];
  start(el: El, via: string[]): (Machine | InterpreterFinding)[];
}

export interface Grammar<S = unknown> {
  start(): S;
  step(s: S, el: El, ctx: StepContext): Outcome<S>[];
}

/** Whether an element may sit in a position: concrete text always may; open-ended values only whole, as data. */
export function place<S>(el: El, placement: Placement, s: S): Outcome<S> {
  if (el.kind === 'text') return { s };
  if (placement.role === 'data' && !el.spliced) return { s };
  if (placement.role === 'sql' && el.spliced && el.prefix !== '' && !el.prefix.startsWith('\\'))
    return { s };
  return { finding: placement };
}

/** Whether the element can be read as an option (starts, or may start, with `-`, or `+` where `+` also marks options). */
export function mayBeOption(el: El, plus: boolean): boolean {
  const marks = (t: string) => t.startsWith('-') || (plus && t.startsWith('+'));
  if (el.kind === 'text') return marks(el.text) && el.text.length > 1;
  if (el.prefix !== '') return marks(el.prefix);
  return !el.dashSafe;
}
