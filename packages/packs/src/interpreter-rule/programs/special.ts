import type { El, Grammar, Machine, Outcome, StepContext } from '../types.js';
import { mayBeOption, place } from '../types.js';

const TEST_ARGS: Record<string, number> = Object.fromEntries([
  ...[
    'name',
    'iname',
    'path',
    'ipath',
    'wholename',
    'iwholename',
    'regex',
    'iregex',
    'lname',
    'ilname',
    'newer',
    'anewer',
    'cnewer',
    'perm',
    'type',
    'xtype',
    'user',
    'group',
    'uid',
    'gid',
    'size',
    'links',
    'inum',
    'samefile',
    'amin',
    'cmin',
    'mmin',
    'atime',
    'ctime',
    'mtime',
    'used',
    'fstype',
    'context',
    'maxdepth',
    'mindepth',
    'regextype',
    'files0-from',
    'printf',
    'fprint',
    'fprint0',
    'fls',
  ].map((n) => [`-${n}`, 1]),
  ['-fprintf', 2],
]);
const FIND_FLAGS = new Set(
  [
    'print',
    'print0',
    'ls',
    'delete',
    'prune',
    'quit',
    'depth',
    'd',
    'follow',
    'mount',
    'xdev',
    'noleaf',
    'ignore_readdir_race',
    'noignore_readdir_race',
    'daystart',
    'warn',
    'nowarn',
    'help',
    'version',
    'true',
    'false',
    'empty',
    'executable',
    'readable',
    'writable',
    'nouser',
    'nogroup',
    'not',
    'a',
    'and',
    'o',
    'or',
  ].map((n) => `-${n}`),
);
const FIND_OPERATORS = new Set(['(', ')', '!', ',']);
const EXEC = new Set(['-exec', '-execdir', '-ok', '-okdir']);

export interface FindState {
  /** lead: -H/-L/-P/-D/-O; paths: starting points; expr; exec: collecting a command. */
  p: 'lead' | 'paths' | 'expr' | 'exec' | 'u';
  /** Values still owed to the last test (data). */
  owed?: number;
  /** -D's value. */
  debug?: boolean;
  inner?: Machine;
  /** The previous element of the command was `{}` (so `+` ends it). */
  braces?: boolean;
  why?: string;
}

const EXPRESSION = { role: 'option', what: 'where find reads its expression' } as const;

/** find: starting points, an expression, and commands run by -exec/-execdir/-ok/-okdir up to `;` or `{} +`. */
export const find: Grammar<FindState> = {
  start: () => ({ p: 'lead' }),
  step(s, el, ctx): Outcome<FindState>[] {
    if (s.p === 'u')
      return [el.kind === 'text' ? { s } : { finding: { role: 'unsure', what: s.why! } }];
    if (s.debug)
      return [place(el, { role: 'value', what: 'the value of option -D' }, { p: 'lead' })];
    if (s.owed) {
      const owed = s.owed - 1;
      return [place(el, { role: 'data' }, owed > 0 ? { ...s, owed } : { p: 'expr' })];
    }
    if (s.p === 'exec') return execStep(s, el, ctx);
    const text = el.kind === 'text' ? el.text : undefined;
    if (s.p === 'lead') {
      if (text === '-H' || text === '-L' || text === '-P' || text?.startsWith('-O')) return [{ s }];
      if (text === '-D') return [{ s: { p: 'lead', debug: true } }];
    }
    if (s.p === 'lead' || s.p === 'paths') {
      const expression =
        text !== undefined
          ? text.startsWith('-') || FIND_OPERATORS.has(text)
          : mayBeOption(el, false);
      if (!expression) return [place(el, { role: 'data' }, { p: 'paths' })];
    }
    if (text === undefined) return [{ finding: EXPRESSION }];
    if (FIND_OPERATORS.has(text) || FIND_FLAGS.has(text)) return [{ s: { p: 'expr' } }];
    if (EXEC.has(text)) return [{ s: { p: 'exec' } }];
    const owed = TEST_ARGS[text] ?? (/^-newer[amcBt][amcBt]$/.test(text) ? 1 : undefined);
    if (owed !== undefined) return [{ s: { p: 'expr', owed } }];
    return [{ s: { p: 'u', why: `find's ${text}, which emisar does not know` } }];
  },
};

function execStep(s: FindState, el: El, ctx: StepContext): Outcome<FindState>[] {
  if (s.inner === undefined) {
    return ctx
      .start(el, ['find -exec'])
      .map((m) => ('g' in m ? { s: { p: 'exec', inner: m, braces: isBraces(el) } } : { found: m }));
  }
  const ends = el.kind === 'text' && (el.text === ';' || (el.text === '+' && s.braces));
  if (ends) return [{ s: { p: 'expr' } }];
  const outcomes: Outcome<FindState>[] = ctx
    .step(s.inner, el)
    .map((m) => ('g' in m ? { s: { p: 'exec', inner: m, braces: isBraces(el) } } : { found: m }));
  // An open-ended value may itself be the `;` that ends the command.
  if (el.kind === 'open' && !el.spliced) outcomes.push({ s: { p: 'expr' } });
  return outcomes;
}

function isBraces(el: El): boolean {
  return el.kind === 'text' && el.text === '{}';
}

export interface IpState {
  p: 'opts' | 'object' | 'name' | 'run' | 'free';
  value?: boolean;
}

const IP_VALUE_OPTIONS = ['-netns', '-batch', '-loops', '-family', '-rcvbuf'];

/** ip: a command runner only through `ip netns exec NAME …` and `ip vrf exec NAME …`. */
export const ip: Grammar<IpState> = {
  start: () => ({ p: 'opts' }),
  step(s, el) {
    if (s.p === 'free') return [{ s }];
    if (s.value)
      return [place(el, { role: 'value', what: 'an option value of ip' }, { p: 'opts' })];
    if (el.kind === 'open')
      return [
        {
          finding: {
            role: s.p === 'run' ? 'program' : 'option',
            what: 'where ip reads its options, object and namespace',
          },
        },
      ];
    const text = el.text;
    if (s.p === 'opts') {
      if (!text.startsWith('-')) return ipObject(text);
      const takes =
        text.length > 1 &&
        !text.startsWith('-br') &&
        IP_VALUE_OPTIONS.some((o) => o.startsWith(text));
      return [{ s: { p: 'opts', value: takes } }];
    }
    if (s.p === 'object')
      return [{ s: { p: text.length > 0 && 'exec'.startsWith(text) ? 'name' : 'free' } }];
    if (s.p === 'name') return [{ s: { p: 'run' } }];
    return [{ run: 'ip' }];
  },
};

function ipObject(text: string): Outcome<IpState>[] {
  const runsCommands =
    (text.length >= 3 && 'netns'.startsWith(text)) || (text.length > 0 && 'vrf'.startsWith(text));
  return [{ s: { p: runsCommands ? 'object' : 'free' } }];
}

/** A program that runs other programs in ways emisar does not model: no open-ended value may reach it. */
export function opaque(name: string): Grammar<null> {
  return {
    start: () => null,
    step: (s, el) =>
      el.kind === 'text'
        ? [{ s }]
        : [
            {
              finding: {
                role: 'unsure',
                what: `an argument of ${name}, whose grammar emisar does not model`,
              },
            },
          ],
  };
}

/**
 * A program with options that run commands (tar --to-command, rsync -e, git
 * -c core.sshCommand …) and that reads options anywhere before `--`: an
 * open-ended value is data only after `--`, or when it can never look like an
 * option (an absolute path).
 */
export function optionRunner(name: string): Grammar<boolean> {
  return {
    start: () => false,
    step(afterDashes, el) {
      if (el.kind === 'text') return [{ s: afterDashes || el.text === '--' }];
      if (afterDashes || !mayBeOption(el, true)) return [place(el, { role: 'data' }, afterDashes)];
      return [
        {
          finding: {
            role: 'option',
            what: `where ${name} reads options (some of which run commands); pass it after --`,
          },
        },
      ];
    },
  };
}

export interface SubcommandState {
  sub?: string;
  inner?: boolean;
}

/**
 * docker, kubectl and alike: the subcommands that only read (logs, get …) are
 * option runners; every other subcommand (exec, run, cp …) is opaque.
 */
export function subcommands(name: string, reading: readonly string[]): Grammar<SubcommandState> {
  const safe = new Set(reading);
  const rest = optionRunner(name);
  const closed = opaque(`${name} <subcommand>`);
  return {
    start: () => ({}),
    step(s, el, ctx) {
      if (s.sub === undefined) {
        if (el.kind === 'open')
          return [{ finding: { role: 'option', what: `where ${name} reads its subcommand` } }];
        if (el.text.startsWith('-')) return [{ s }];
        return [{ s: { sub: el.text, inner: false } }];
      }
      const inner = safe.has(s.sub) ? rest : closed;
      return inner
        .step(s.inner as never, el, ctx)
        .map((o) =>
          's' in o ? { s: { sub: s.sub, inner: o.s as boolean } } : (o as Outcome<SubcommandState>),
        );
    },
  };
}
