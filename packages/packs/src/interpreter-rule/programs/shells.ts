import { FLAG, type GetoptSpec, getopt, type OperandContext, type Opt, VALUE } from '../getopt.js';
import type { Grammar } from '../types.js';

function letters(chars: string, extra: Record<string, Opt> = {}): Record<string, Opt> {
  const table: Record<string, Opt> = {};
  for (const c of chars) table[c] = FLAG;
  table.c = { sets: 'c' };
  table.s = { sets: 's' };
  return { ...table, ...extra };
}

/** sh-family operands: with -c the first is program text and the rest are $0, $1…; with -s all are data; else the first is a script. */
function shellOperand({ flags, n }: OperandContext) {
  if (flags.has('c')) return n === 0 ? 'code' : 'data';
  if (flags.has('s')) return 'data';
  return n === 0 ? 'script' : 'data';
}

function shell(name: string, spec: Omit<GetoptSpec, 'operand' | 'plus' | 'loneDash'>): Grammar {
  return getopt(name, { ...spec, plus: true, loneDash: { ends: true }, operand: shellOperand });
}

const BASH_LONG: Record<string, Opt> = {
  ...Object.fromEntries(
    [
      'login',
      'noediting',
      'noprofile',
      'norc',
      'posix',
      'protected',
      'restricted',
      'verbose',
      'version',
      'help',
      'debug',
      'debugger',
      'dump-po-strings',
      'dump-strings',
      'wordexp',
      'pretty-print',
    ].map((l) => [l, FLAG]),
  ),
  'init-file': { arg: 'required' },
  rcfile: { arg: 'required' },
};

/**
 * The shells by grammar. `sh` may be any of them on a given host, so it is
 * checked as each (`SH_VARIANTS`): a position is data only if it is data in all.
 */
export const SHELLS: Record<string, Grammar> = {
  bash: shell('bash', {
    short: letters('abBCDeEfhHiklmnpPrtTuvx', { o: VALUE, O: VALUE }),
    long: BASH_LONG,
  }),
  dash: shell('dash', { short: letters('abCefhilmnpquvxEIV', { o: VALUE }) }),
  ash: shell('ash', {
    short: letters('abCefhilmnpuvxE', { o: VALUE }),
    long: { login: FLAG },
  }),
  ksh: shell('ksh', {
    short: letters('abCDeEfhiklmnprtuvxP', { o: VALUE, R: { arg: 'required' } }),
  }),
  mksh: shell('mksh', {
    short: letters('abCefhilmnprtuvxXU', { o: VALUE, T: { arg: 'required' } }),
  }),
  zsh: shell('zsh', {
    short: letters('0123456789ABCDEFGHIJKLMNPQRSTUVWXYZadefghijklmnpqrtuvwxyz', {
      o: VALUE,
      b: { ends: true },
    }),
    anyLong: FLAG,
  }),
  yash: shell('yash', {
    short: letters('abCefhilmnuvxV', { o: VALUE }),
    long: {
      ...Object.fromEntries(
        [
          'interactive',
          'login',
          'noprofile',
          'norcfile',
          'posix',
          'help',
          'version',
          'verbose',
          'xtrace',
          'errexit',
          'nounset',
        ].map((l) => [l, FLAG]),
      ),
      cmdline: { sets: 'c' },
      stdin: { sets: 's' },
      profile: { arg: 'required' },
      rcfile: { arg: 'required' },
    },
  }),
  posh: shell('posh', { short: letters('abCefhilmnpuvx', { o: VALUE }) }),
  csh: getopt('csh', {
    // csh reads its program text from the element right after the cluster holding c.
    short: {
      ...letters('deEfFilmnqtvVxX'),
      b: { ends: true },
      c: { arg: 'next', role: 'code', sets: 'c' },
      D: { arg: 'optional' },
    },
    long: { help: FLAG, version: FLAG },
    loneDash: { ends: true, sets: 'unsure-dash' },
    operand: ({ flags, n }) =>
      flags.has('unsure-dash')
        ? { role: 'unsure', what: 'a lone -, whose meaning differs between csh versions' }
        : flags.has('c') || flags.has('s')
          ? 'data'
          : n === 0
            ? 'script'
            : 'data',
  }),
  fish: getopt('fish', {
    short: {
      c: { arg: 'required', role: 'code', sets: 'c' },
      C: { arg: 'required', role: 'code' },
      p: { arg: 'required' },
      d: { arg: 'required' },
      D: { arg: 'required' },
      f: { arg: 'required' },
      o: { arg: 'required' },
      h: FLAG,
      P: FLAG,
      i: FLAG,
      l: FLAG,
      N: FLAG,
      n: FLAG,
      v: FLAG,
    },
    long: {
      command: { arg: 'required', role: 'code', sets: 'c' },
      'init-command': { arg: 'required', role: 'code' },
      profile: { arg: 'required' },
      'profile-startup': { arg: 'required' },
      debug: { arg: 'required' },
      'debug-stack-frames': { arg: 'required' },
      'debug-output': { arg: 'required' },
      features: { arg: 'required' },
      help: FLAG,
      private: FLAG,
      interactive: FLAG,
      login: FLAG,
      'no-config': FLAG,
      'no-execute': FLAG,
      version: FLAG,
      'print-rusage-self': FLAG,
      'print-debug-categories': FLAG,
    },
    abbrev: true,
    operand: ({ flags, n }) => (flags.has('c') ? 'data' : n === 0 ? 'script' : 'data'),
  }),
};

/** What `sh` (and busybox/hush-style shells) may be on a host. */
export const SH_VARIANTS = ['bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'posh', 'yash'];
