import {
  type El,
  type Grammar,
  mayBeOption,
  type Outcome,
  type Placement,
  place,
  type Role,
} from './types.js';

/** One option of a program. */
export interface Opt {
  /**
   * none: a flag; required: the rest of the cluster, `=value` or else the next
   * element; optional: only an attached value; next: the next element even when
   * more letters follow in the cluster (csh -c).
   */
  arg?: 'none' | 'required' | 'optional' | 'next';
  /** Role of the value (default `value`); several for options taking several elements (jq --arg). */
  role?: Role | Role[];
  /** A mode the option turns on (`c` for a shell's -c). */
  sets?: string;
  /** Option parsing stops after this option (python -c). */
  ends?: boolean;
  /** An attached value matching this makes positions unknowable (mawk -W exec). */
  unsureValue?: RegExp;
  /** For `optional`: how much of the rest of the cluster the value takes (perl -l takes octal digits); default all. */
  attached?: RegExp;
}

export const FLAG: Opt = {};
export const VALUE: Opt = { arg: 'required' };
export const ATTACHED: Opt = { arg: 'optional' };

/** Single-letter flags. */
export function flags(chars: string): Record<string, Opt> {
  return Object.fromEntries([...chars].map((c) => [c, FLAG]));
}

/** Several options of one kind. */
export function named(names: string[], opt: Opt = FLAG): Record<string, Opt> {
  return Object.fromEntries(names.map((n) => [n, opt]));
}

export type OperandRole = Role | 'program';

export interface OperandContext {
  flags: ReadonlySet<string>;
  /** Operands already seen. */
  n: number;
  el: El;
}

export interface Operand {
  role: OperandRole;
  what?: string;
  sets?: string;
  /** Option parsing resumes after this operand (ssh after the destination). */
  resume?: boolean;
}

export interface GetoptSpec {
  short?: Record<string, Opt>;
  long?: Record<string, Opt>;
  /** Every `--name` not listed (zsh takes any option name this way). */
  anyLong?: Opt;
  /** getopt_long: an unambiguous prefix names a long option. */
  abbrev?: boolean;
  /** `+x` clusters are options too (shells). */
  plus?: boolean;
  /** Options are read among operands until `--` (GNU getopt without `+`). */
  permute?: boolean;
  /** Letters cluster (`-xc`); when false `-eCODE` is one option with its value attached. */
  clusters?: boolean;
  /** Whole elements that are options (`-pe`, `-encoding`). */
  whole?: Record<string, Opt>;
  /** What a lone `-` does; default: an operand. */
  loneDash?: Opt;
  operand(ctx: OperandContext): OperandRole | Operand;
}

interface Pending {
  name: string;
  roles: Role[];
  sets?: string;
  ends?: boolean;
}

export interface GetoptState {
  /** o: reading options; a: operands only; u: positions unknown from here. */
  p: 'o' | 'a' | 'u';
  f: string[];
  n: number;
  q?: Pending;
  why?: string;
}

type Result = Outcome<GetoptState>;

function withFlag(s: GetoptState, flag: string | undefined): GetoptState {
  if (flag === undefined || s.f.includes(flag)) return s;
  return { ...s, f: [...s.f, flag].sort() };
}

function rolesOf(opt: Opt): Role[] {
  const role = opt.role ?? 'value';
  return Array.isArray(role) ? role : [role];
}

function unsure(s: GetoptState, why: string): Result {
  const { q: _q, ...rest } = s;
  return { s: { ...rest, p: 'u', why } };
}

/** Applies a flag option: its mode, and the end of option parsing. */
function applied(s: GetoptState, opt: Opt): GetoptState {
  const next = withFlag(s, opt.sets);
  return opt.ends ? { ...next, p: 'a' } : next;
}

function pendingFor(name: string, opt: Opt): Pending {
  const pending: Pending = { name, roles: rolesOf(opt) };
  if (opt.sets !== undefined) pending.sets = opt.sets;
  if (opt.ends) pending.ends = true;
  return pending;
}

/** `--name` or `--name=value`, with getopt_long abbreviations where the spec allows them. */
function longOption(spec: GetoptSpec, s: GetoptState, text: string): Result {
  const body = text.slice(2);
  const eq = body.indexOf('=');
  const key = eq < 0 ? body : body.slice(0, eq);
  let opt = spec.long?.[key];
  if (opt === undefined && spec.abbrev && spec.long !== undefined) {
    const matches = Object.keys(spec.long).filter((l) => l.startsWith(key));
    if (matches.length === 1) opt = spec.long[matches[0]!];
  }
  opt ??= spec.anyLong;
  if (opt === undefined) return unsure(s, `option --${key}, which emisar does not know`);
  const arg = opt.arg ?? 'none';
  if (arg === 'none') {
    return eq < 0 ? { s: applied(s, opt) } : unsure(s, `option --${key} given a value`);
  }
  if (eq >= 0 || arg === 'optional') {
    if (eq >= 0 && opt.unsureValue?.test(body.slice(eq + 1))) return unsure(s, `option --${body}`);
    if (eq >= 0 && rolesOf(opt).length > 1) return unsure(s, `option --${key} given a value`);
    return { s: applied(s, opt) };
  }
  return { s: { ...s, q: pendingFor(`--${key}`, opt) } };
}

/** A whole-element option, or a cluster of letters each of which may take a value. */
function shortOption(spec: GetoptSpec, s: GetoptState, text: string): Result {
  const clusters = spec.clusters ?? true;
  const mark = text[0]!;
  const whole = spec.whole?.[text];
  if (whole !== undefined) {
    return (whole.arg ?? 'none') === 'none'
      ? { s: applied(s, whole) }
      : { s: { ...s, q: pendingFor(text, whole) } };
  }
  let state = s;
  let next: Pending | undefined;
  for (let i = 1; i < text.length; i++) {
    const letter = text[i]!;
    const opt = spec.short?.[letter];
    if (opt === undefined) return unsure(s, `option ${mark}${letter}, which emisar does not know`);
    const arg = opt.arg ?? 'none';
    const rest = text.slice(i + 1);
    if (!clusters && rest !== '' && (arg === 'none' || arg === 'next'))
      return unsure(s, `option ${text}, which emisar does not know`);
    if (arg === 'none') {
      state = withFlag(state, opt.sets);
      if (opt.ends) return { s: { ...state, p: 'a' } };
      continue;
    }
    if (arg === 'next') {
      next = pendingFor(`${mark}${letter}`, opt);
      continue;
    }
    if (arg === 'optional' && opt.attached !== undefined) {
      const taken = opt.attached.exec(rest)?.[0].length ?? 0;
      state = applied(state, opt);
      i += taken;
      continue;
    }
    if (rest !== '' || arg === 'optional') {
      if (opt.unsureValue?.test(rest)) return unsure(s, `option ${mark}${letter}${rest}`);
      if (rest !== '' && rolesOf(opt).length > 1)
        return unsure(s, `option ${mark}${letter} given an attached value`);
      state = applied(state, opt);
      return { s: next ? { ...state, q: next } : state };
    }
    return { s: { ...state, q: pendingFor(`${mark}${letter}`, opt) } };
  }
  return { s: next ? { ...state, q: next } : state };
}

/** An operand: its role from the spec, or the program the rest of the line runs. */
function operand(name: string, spec: GetoptSpec, s: GetoptState, el: El): Result {
  const given = spec.operand({ flags: new Set(s.f), n: s.n, el });
  const op: Operand = typeof given === 'string' ? { role: given } : given;
  const reading = spec.permute ? s.p : 'a';
  let next: GetoptState = withFlag({ ...s, n: s.n + 1, p: op.resume ? 'o' : reading }, op.sets);
  if (op.role === 'program') {
    if (spec.permute && s.p === 'o') {
      next = {
        ...next,
        p: 'u',
        why: `${name} reads options among its command's arguments unless they follow --`,
      };
      return el.kind === 'text' && el.args.length === 0 ? { s: next } : { run: name };
    }
    return { run: name };
  }
  const placement: Placement = { role: op.role };
  if (op.what !== undefined) placement.what = op.what;
  return place(el, placement, next);
}

/** An open-ended value where options are read: an option, or else the operand it would be. */
function optionOrOperand(spec: GetoptSpec, s: GetoptState, el: El): Result {
  const given = spec.operand({ flags: new Set(s.f), n: s.n, el });
  const role = typeof given === 'string' ? given : given.role;
  if (role === 'data' || role === 'value') return { finding: { role: 'option' } };
  return { finding: { role, what: 'or an option' } };
}

/** The next element of the value a pending option takes. */
function optionValue(s: GetoptState, q: Pending, el: El): Result {
  const [role, ...rest] = q.roles;
  let next: GetoptState;
  if (rest.length > 0) next = { ...s, q: { ...q, roles: rest } };
  else {
    const { q: _q, ...without } = s;
    next = withFlag(without, q.sets);
    if (q.ends) next = { ...next, p: 'a' };
  }
  return place(el, { role: role!, what: `the value of option ${q.name}` }, next);
}

/** A getopt-style program: options, then operands whose roles the spec decides. */
export function getopt(name: string, spec: GetoptSpec): Grammar<GetoptState> {
  const plus = spec.plus ?? false;
  return {
    start: () => ({ p: 'o', f: [], n: 0 }),
    step(s, el) {
      if (s.p === 'u') {
        return [el.kind === 'text' ? { s } : { finding: { role: 'unsure', what: s.why! } }];
      }
      if (s.q !== undefined) return [optionValue(s, s.q, el)];
      if (s.p === 'a') return [operand(name, spec, s, el)];
      if (el.kind === 'open')
        return [mayBeOption(el, plus) ? optionOrOperand(spec, s, el) : operand(name, spec, s, el)];
      const text = el.text;
      if (text === '--') return [{ s: { ...s, p: 'a' } }];
      if (text === '-' && spec.loneDash !== undefined) return [{ s: applied(s, spec.loneDash) }];
      if (text.startsWith('--') && !spec.whole?.[text]) return [longOption(spec, s, text)];
      if (mayBeOption(el, plus)) return [shortOption(spec, s, text)];
      return [operand(name, spec, s, el)];
    },
  };
}
