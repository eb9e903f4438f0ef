import {
  ATTACHED,
  FLAG,
  flags,
  getopt,
  named,
  type OperandContext,
  type Opt,
  VALUE,
} from '../getopt.js';
import type { Grammar, Role } from '../types.js';

/** An option whose value is program text, after which no script operand is read. */
const PROGRAM_TEXT: Opt = { arg: 'required', role: 'code', sets: 'text' };
const CODE: Opt = { arg: 'required', role: 'code' };
const SCRIPT: Opt = { arg: 'required', role: 'script', sets: 'text' };

/** Script interpreters: given program text, operands are data; else the first is the script. */
function scriptOperand({ flags: set, n }: OperandContext): Role {
  if (set.has('text')) return 'data';
  return n === 0 ? 'script' : 'data';
}

/** awk, sed, jq: the first operand is program text unless a file or -e gave it. */
function programOperand({ flags: set, n }: OperandContext): Role {
  if (set.has('text')) return 'data';
  if (set.has('from-file')) return n === 0 ? 'script' : 'data';
  return n === 0 ? 'code' : 'data';
}

const python = getopt('python', {
  short: {
    ...flags('bBdEhiIOPqRsSuvVx3t?'),
    c: { ...PROGRAM_TEXT, ends: true },
    m: { ...PROGRAM_TEXT, ends: true },
    W: VALUE,
    X: VALUE,
    Q: VALUE,
  },
  long: {
    ...named(['help', 'version', 'help-env', 'help-xoptions', 'help-all']),
    'check-hash-based-pycs': VALUE,
  },
  loneDash: { ends: true, sets: 'text' },
  operand: scriptOperand,
});

const perl = getopt('perl', {
  short: {
    ...flags('acfhStTuUvwWXg'),
    n: { sets: 'loop' },
    p: { sets: 'loop' },
    s: { sets: 'switches' },
    ...named(['d', 'D', 'i', 'x', 'F', 'V'], ATTACHED),
    '0': { arg: 'optional', attached: /^(?:x[0-9a-fA-F]*|[0-7]*)/ },
    l: { arg: 'optional', attached: /^[0-7]*/ },
    C: { arg: 'optional', attached: /^(?:\d+|[IOEioSDALa]*)/ },
    m: { arg: 'optional', role: 'code' },
    M: { arg: 'optional', role: 'code' },
    e: PROGRAM_TEXT,
    E: PROGRAM_TEXT,
    I: VALUE,
  },
  loneDash: { ends: true, sets: 'text' },
  operand(ctx) {
    const role = scriptOperand(ctx);
    if (role !== 'data') return role;
    if (ctx.flags.has('loop'))
      return {
        role: 'code',
        what: "a file name for -n/-p's <> loop, whose two-argument open runs commands",
      };
    if (ctx.flags.has('switches'))
      return { role: 'option', what: 'an argument that -s parses as a switch' };
    return role;
  },
});

const ruby = getopt('ruby', {
  short: {
    ...flags('acdhlnpSvwyU'),
    s: { sets: 'switches' },
    ...named(['i', 'x', 'F'], ATTACHED),
    '0': { arg: 'optional', attached: /^[0-7]*/ },
    W: { arg: 'optional', attached: /^(?:\d|:[\w-]+)?/ },
    K: { arg: 'optional', attached: /^./ },
    C: VALUE,
    E: VALUE,
    I: VALUE,
    r: CODE,
    e: PROGRAM_TEXT,
  },
  long: {
    ...named(['copyright', 'version', 'verbose', 'help', 'yydebug', 'jit', 'yjit', 'rjit', 'mjit']),
    ...named(
      [
        'enable',
        'disable',
        'dump',
        'encoding',
        'external-encoding',
        'internal-encoding',
        'backtrace-limit',
        'crash-report',
        'parser',
      ],
      VALUE,
    ),
  },
  loneDash: { ends: true, sets: 'text' },
  operand(ctx) {
    const role = scriptOperand(ctx);
    if (role === 'data' && ctx.flags.has('switches'))
      return { role: 'option', what: 'an argument that -s parses as a switch' };
    return role;
  },
});

const node = getopt('node', {
  clusters: false,
  short: {
    e: PROGRAM_TEXT,
    p: PROGRAM_TEXT,
    r: CODE,
    C: VALUE,
    i: FLAG,
    c: FLAG,
    v: FLAG,
    h: FLAG,
  },
  whole: { '-pe': PROGRAM_TEXT },
  long: {
    eval: PROGRAM_TEXT,
    print: PROGRAM_TEXT,
    require: CODE,
    import: CODE,
    loader: CODE,
    'experimental-loader': CODE,
    ...named(
      [
        'conditions',
        'input-type',
        'title',
        'env-file',
        'inspect-port',
        'redirect-warnings',
        'icu-data-dir',
        'openssl-config',
        'unhandled-rejections',
        'disable-warning',
        'experimental-default-type',
        'watch-path',
        'test-reporter',
        'test-reporter-destination',
        'test-name-pattern',
        'report-dir',
        'report-filename',
        'diagnostic-dir',
      ],
      VALUE,
    ),
    ...named(
      [
        'max-old-space-size',
        'max-semi-space-size',
        'stack-size',
        'stack-trace-limit',
        'inspect',
        'inspect-brk',
        'max-http-header-size',
        'heapsnapshot-near-heap-limit',
        'secure-heap',
        'tls-min-v1.2',
      ],
      ATTACHED,
    ),
    ...named([
      'interactive',
      'check',
      'version',
      'help',
      'no-warnings',
      'no-deprecation',
      'trace-warnings',
      'trace-deprecation',
      'throw-deprecation',
      'pending-deprecation',
      'trace-uncaught',
      'enable-source-maps',
      'abort-on-uncaught-exception',
      'expose-gc',
      'preserve-symlinks',
      'preserve-symlinks-main',
      'zero-fill-buffers',
      'frozen-intrinsics',
      'no-addons',
      'no-global-search-paths',
      'jitless',
      'experimental-vm-modules',
      'experimental-strip-types',
      'no-experimental-fetch',
      'test',
      'watch',
    ]),
  },
  loneDash: { ends: true, sets: 'text' },
  operand: scriptOperand,
});

const php = getopt('php', {
  short: {
    ...flags('aehHilmnqsvwC'),
    c: VALUE,
    d: VALUE,
    S: VALUE,
    t: VALUE,
    z: CODE,
    f: SCRIPT,
    F: SCRIPT,
    r: PROGRAM_TEXT,
    R: PROGRAM_TEXT,
    B: CODE,
    E: CODE,
  },
  long: {
    ...named(['rf', 'rc', 're', 'rz', 'ri', 'php-ini', 'define', 'server', 'docroot'], VALUE),
    ini: ATTACHED,
    'zend-extension': CODE,
    file: SCRIPT,
    'process-file': SCRIPT,
    run: PROGRAM_TEXT,
    'process-code': PROGRAM_TEXT,
    'process-begin': CODE,
    'process-end': CODE,
    ...named([
      'no-php-ini',
      'help',
      'info',
      'syntax-check',
      'modules',
      'interactive',
      'strip',
      'version',
      'no-header',
      'no-chdir',
      'hide-args',
    ]),
  },
  loneDash: { ends: true, sets: 'text' },
  operand: scriptOperand,
});

/** lua and luajit: -e does not replace the script operand, only `-` (stdin) does. */
const lua = getopt('lua', {
  clusters: false,
  short: {
    e: CODE,
    l: CODE,
    j: CODE,
    O: ATTACHED,
    i: FLAG,
    v: FLAG,
    E: FLAG,
    W: FLAG,
  },
  loneDash: { ends: true, sets: 'text' },
  operand: scriptOperand,
});

const awk = getopt('awk', {
  short: {
    ...flags('bcCghMnNOPrsStVY'),
    F: VALUE,
    v: VALUE,
    f: { arg: 'required', role: 'script', sets: 'text' },
    e: PROGRAM_TEXT,
    E: { arg: 'required', role: 'script', sets: 'text', ends: true },
    i: CODE,
    l: CODE,
    W: { arg: 'required', unsureValue: /^e/ },
    ...named(['d', 'D', 'L', 'o', 'p'], ATTACHED),
  },
  long: {
    'field-separator': VALUE,
    assign: VALUE,
    file: { arg: 'required', role: 'script', sets: 'text' },
    source: PROGRAM_TEXT,
    exec: { arg: 'required', role: 'script', sets: 'text', ends: true },
    include: CODE,
    load: CODE,
    ...named(['dump-variables', 'debug', 'lint', 'pretty-print', 'profile', 'persist'], ATTACHED),
    ...named([
      'characters-as-bytes',
      'traditional',
      'copyright',
      'gen-pot',
      'help',
      'bignum',
      'non-decimal-data',
      'optimize',
      'no-optimize',
      'posix',
      're-interval',
      'sandbox',
      'use-lc-numeric',
      'version',
      'csv',
    ]),
  },
  abbrev: true,
  operand: programOperand,
});

/** GNU sed: the script can run commands (`e`, `s///e`) and write files (`w`). */
const sed = getopt('sed', {
  short: {
    ...flags('nrEsuzb'),
    e: PROGRAM_TEXT,
    f: { arg: 'required', role: 'script', sets: 'text' },
    i: ATTACHED,
    l: VALUE,
  },
  long: {
    expression: PROGRAM_TEXT,
    file: { arg: 'required', role: 'script', sets: 'text' },
    'in-place': ATTACHED,
    'line-length': VALUE,
    ...named([
      'quiet',
      'silent',
      'debug',
      'null-data',
      'zero-terminated',
      'posix',
      'regexp-extended',
      'separate',
      'sandbox',
      'unbuffered',
      'follow-symlinks',
      'binary',
      'help',
      'version',
    ]),
  },
  abbrev: true,
  permute: true,
  operand: programOperand,
});

/** jq: the filter is code (it reads $ENV and files); --arg values are data. */
const jq = getopt('jq', {
  short: { ...flags('nrjasCMSehRVb'), c: FLAG, f: { sets: 'from-file' }, L: VALUE },
  long: {
    arg: { arg: 'required', role: ['value', 'data'] },
    argjson: { arg: 'required', role: ['value', 'data'] },
    slurpfile: { arg: 'required', role: ['value', 'value'] },
    rawfile: { arg: 'required', role: ['value', 'value'] },
    indent: VALUE,
    'from-file': { sets: 'from-file' },
    ...named([
      'args',
      'jsonargs',
      'tab',
      'seq',
      'stream',
      'stream-errors',
      'ascii-output',
      'sort-keys',
      'raw-output',
      'raw-output0',
      'join-output',
      'null-input',
      'raw-input',
      'slurp',
      'compact-output',
      'color-output',
      'monochrome-output',
      'unbuffered',
      'exit-status',
      'help',
      'version',
      'build-configuration',
    ]),
  },
  permute: true,
  operand: programOperand,
});

const tclsh = getopt('tclsh', {
  clusters: false,
  whole: { '-encoding': VALUE },
  operand: scriptOperand,
});

const expect = getopt('expect', {
  short: { ...flags('dinNv'), b: FLAG, c: CODE, D: VALUE, f: SCRIPT },
  operand: scriptOperand,
});

const osascript = getopt('osascript', {
  short: { e: PROGRAM_TEXT, l: VALUE, s: VALUE, i: FLAG },
  operand: scriptOperand,
});

const rscript = getopt('Rscript', {
  clusters: false,
  short: { e: PROGRAM_TEXT },
  long: { args: { ends: true, sets: 'unsure-args' } },
  anyLong: { arg: 'optional' },
  operand: (ctx) =>
    ctx.flags.has('unsure-args') ? { role: 'unsure', what: 'Rscript --args' } : scriptOperand(ctx),
});

/** psql: -c text starting with a backslash is a meta-command (`\!` runs a shell); -o |cmd pipes. */
const psql = getopt('psql', {
  short: {
    ...flags('aAbeEHlnqsStwWxXz01V?'),
    c: { arg: 'required', role: 'sql' },
    f: { arg: 'required', role: 'script' },
    ...named(['o', 'L', 'v', 'd', 'h', 'p', 'U', 'P', 'F', 'R', 'T'], VALUE),
  },
  long: {
    command: { arg: 'required', role: 'sql' },
    file: { arg: 'required', role: 'script' },
    ...named(
      [
        'output',
        'log-file',
        'set',
        'variable',
        'dbname',
        'host',
        'port',
        'username',
        'pset',
        'field-separator',
        'record-separator',
        'table-attr',
      ],
      VALUE,
    ),
    help: ATTACHED,
    ...named([
      'echo-all',
      'no-align',
      'echo-errors',
      'echo-queries',
      'echo-hidden',
      'html',
      'list',
      'no-readline',
      'quiet',
      'single-step',
      'single-line',
      'tuples-only',
      'no-password',
      'password',
      'expanded',
      'no-psqlrc',
      'field-separator-zero',
      'record-separator-zero',
      'single-transaction',
      'csv',
      'version',
    ]),
  },
  abbrev: true,
  permute: true,
  operand: () => ({ role: 'value', what: 'a database or user name' }),
});

/** mysql/mariadb: -e text is read by the client, whose `system`/`\!` commands run a shell. */
const mysql = getopt('mysql', {
  short: {
    e: CODE,
    ...flags('BNnrstvVEH?'),
    ...named(['u', 'h', 'P', 'S', 'D'], VALUE),
    p: ATTACHED,
  },
  long: { execute: CODE },
  anyLong: { arg: 'optional' },
  abbrev: true,
  permute: true,
  operand: () => ({ role: 'value', what: 'a database name' }),
});

/** sqlite3: SQL and dot-commands (`.shell`, `.system`, load_extension) after the database file. */
const sqlite3 = getopt('sqlite3', {
  clusters: false,
  whole: { '-cmd': CODE, '-init': SCRIPT },
  anyLong: FLAG,
  short: {},
  operand: ({ n }) => (n === 0 ? { role: 'value', what: 'the database file' } : 'code'),
});

export const SCRIPTING: Record<string, Grammar> = {
  python,
  perl,
  ruby,
  node,
  php,
  lua,
  awk,
  sed,
  jq,
  tclsh,
  expect,
  osascript,
  Rscript: rscript,
  psql,
  mysql,
  sqlite3,
};
