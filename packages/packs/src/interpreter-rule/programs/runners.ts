import {
  ATTACHED,
  FLAG,
  flags,
  getopt,
  named,
  type Operand,
  type OperandContext,
  type OperandRole,
  type Opt,
  VALUE,
} from '../getopt.js';
import type { Grammar } from '../types.js';

/** A command runner's own operands are settings; the one after them is the program it starts. */
function settingsThenProgram(settings: string[]) {
  return ({ n }: OperandContext): OperandRole | Operand =>
    n < settings.length ? { role: 'value', what: settings[n]! } : 'program';
}

/** env and sudo: NAME=VALUE operands until the program. */
function assignmentsThenProgram({ el }: OperandContext): OperandRole | Operand {
  if (el.kind === 'text' && /^[^=]+=/.test(el.text)) return { role: 'value' };
  return 'program';
}

const HELP = named(['help', 'version']);

function runner(
  name: string,
  short: Record<string, Opt>,
  long: Record<string, Opt>,
  settings: string[] = [],
): Grammar {
  return getopt(name, {
    short,
    long: { ...HELP, ...long },
    abbrev: true,
    operand: settingsThenProgram(settings),
  });
}

const env = getopt('env', {
  short: {
    i: FLAG,
    '0': FLAG,
    v: FLAG,
    u: VALUE,
    C: VALUE,
    a: VALUE,
    S: { arg: 'required', role: 'code' },
  },
  long: {
    ...HELP,
    'ignore-environment': FLAG,
    null: FLAG,
    debug: FLAG,
    'list-signal-handling': FLAG,
    unset: VALUE,
    chdir: VALUE,
    argv0: VALUE,
    'split-string': { arg: 'required', role: 'code' },
    ...named(['block-signal', 'default-signal', 'ignore-signal'], ATTACHED),
  },
  abbrev: true,
  loneDash: { ends: true },
  operand: assignmentsThenProgram,
});

const sudo = getopt('sudo', {
  short: {
    ...flags('ABbEHKkNnPSVv'),
    i: { sets: 'shell' },
    s: { sets: 'shell' },
    e: { sets: 'edit' },
    l: { sets: 'list' },
    h: ATTACHED,
    ...named(['a', 'C', 'c', 'D', 'g', 'p', 'R', 'r', 'T', 't', 'U', 'u'], VALUE),
  },
  long: {
    ...HELP,
    ...named([
      'askpass',
      'background',
      'bell',
      'preserve-groups',
      'set-home',
      'remove-timestamp',
      'reset-timestamp',
      'non-interactive',
      'stdin',
      'validate',
    ]),
    login: { sets: 'shell' },
    shell: { sets: 'shell' },
    edit: { sets: 'edit' },
    list: { sets: 'list' },
    'preserve-env': ATTACHED,
    ...named(
      [
        'close-from',
        'login-class',
        'chdir',
        'group',
        'host',
        'prompt',
        'chroot',
        'role',
        'type',
        'command-timeout',
        'other-user',
        'user',
      ],
      VALUE,
    ),
  },
  abbrev: true,
  operand(ctx) {
    // With -s/-i the command line is handed to the user's shell as program text.
    if (ctx.flags.has('shell'))
      return { role: 'code', what: "part of the command sudo -s/-i hands to the user's shell" };
    if (ctx.flags.has('edit') || ctx.flags.has('list')) return { role: 'value' };
    return assignmentsThenProgram(ctx);
  },
});

function switchUser(name: string): Grammar {
  return getopt(name, {
    short: {
      ...flags('flmpPhV'),
      c: { arg: 'required', role: 'code', sets: 'command' },
      C: { arg: 'required', role: 'code', sets: 'command' },
      g: VALUE,
      G: VALUE,
      s: VALUE,
      w: VALUE,
      u: { arg: 'required', sets: 'user' },
    },
    long: {
      ...HELP,
      command: { arg: 'required', role: 'code', sets: 'command' },
      'session-command': { arg: 'required', role: 'code', sets: 'command' },
      ...named(['fast', 'login', 'preserve-environment', 'pty']),
      ...named(['group', 'supp-group', 'shell', 'whitelist-environment'], VALUE),
      user: { arg: 'required', sets: 'user' },
    },
    abbrev: true,
    permute: true,
    loneDash: {},
    operand({ flags: set, n }) {
      if (set.has('user')) return 'program';
      if (n === 0) return { role: 'value', what: 'the user to switch to' };
      // Further operands are arguments of the user's login shell.
      return set.has('command')
        ? 'data'
        : { role: 'option', what: "an argument of the user's login shell" };
    },
  });
}

const flock = getopt('flock', {
  short: { ...flags('sexunoFvhV'), w: VALUE, E: VALUE },
  long: {
    ...HELP,
    ...named(['shared', 'exclusive', 'unlock', 'nonblock', 'nb', 'close', 'no-fork', 'verbose']),
    timeout: VALUE,
    wait: VALUE,
    'conflict-exit-code': VALUE,
  },
  abbrev: true,
  operand({ flags: set, n, el }) {
    if (n === 0) return { role: 'value', what: 'the lock file' };
    if (set.has('command')) return { role: 'code', what: 'the command flock -c hands to a shell' };
    if (n === 1 && el.kind === 'text' && (el.text === '-c' || el.text === '--command'))
      return { role: 'value', sets: 'command' };
    return 'program';
  },
});

const nice = runner('nice', { ...flags('0123456789'), n: VALUE }, { adjustment: VALUE });

const ionice = getopt('ionice', {
  short: {
    t: FLAG,
    h: FLAG,
    V: FLAG,
    c: VALUE,
    n: VALUE,
    p: { arg: 'required', sets: 'ids' },
    P: { arg: 'required', sets: 'ids' },
    u: { arg: 'required', sets: 'ids' },
  },
  long: {
    ...HELP,
    ignore: FLAG,
    class: VALUE,
    classdata: VALUE,
    pid: { arg: 'required', sets: 'ids' },
    pgid: { arg: 'required', sets: 'ids' },
    uid: { arg: 'required', sets: 'ids' },
  },
  abbrev: true,
  operand: ({ flags: set }) =>
    set.has('ids') ? { role: 'value', what: 'a process id' } : 'program',
});

const chrt = getopt('chrt', {
  short: { ...flags('abdefimorRvhV'), p: { sets: 'pid' }, T: VALUE, P: VALUE, D: VALUE },
  long: {
    ...HELP,
    ...named([
      'all-tasks',
      'batch',
      'deadline',
      'ext',
      'fifo',
      'idle',
      'max',
      'other',
      'rr',
      'reset-on-fork',
      'verbose',
    ]),
    pid: { sets: 'pid' },
    ...named(['sched-runtime', 'sched-period', 'sched-deadline'], VALUE),
  },
  abbrev: true,
  operand({ flags: set, n, el }) {
    if (set.has('pid')) return { role: 'value', what: 'a priority or process id' };
    if (n === 0 && el.kind === 'text' && /^\d+$/.test(el.text))
      return { role: 'value', what: 'the priority' };
    return 'program';
  },
});

const taskset = getopt('taskset', {
  short: { a: FLAG, c: FLAG, h: FLAG, V: FLAG, p: { sets: 'pid' } },
  long: { ...HELP, 'all-tasks': FLAG, 'cpu-list': FLAG, pid: { sets: 'pid' } },
  abbrev: true,
  operand: ({ flags: set, n }) =>
    set.has('pid') || n === 0 ? { role: 'value', what: 'a CPU mask or process id' } : 'program',
});

const xargs = runner(
  'xargs',
  {
    ...flags('0prtxo'),
    ...named(['a', 'E', 'I', 'L', 'n', 's', 'P', 'd'], VALUE),
    ...named(['e', 'i', 'l'], ATTACHED),
  },
  {
    ...named([
      'null',
      'open-tty',
      'interactive',
      'no-run-if-empty',
      'verbose',
      'show-limits',
      'exit',
    ]),
    ...named(
      ['arg-file', 'delimiter', 'max-args', 'max-chars', 'max-procs', 'process-slot-var'],
      VALUE,
    ),
    ...named(['eof', 'replace', 'max-lines'], ATTACHED),
  },
);

const watch = getopt('watch', {
  short: { ...flags('bceCghptwrf'), x: { sets: 'exec' }, d: ATTACHED, n: VALUE, q: VALUE },
  long: {
    ...HELP,
    ...named([
      'beep',
      'color',
      'no-color',
      'errexit',
      'chgexit',
      'precise',
      'no-title',
      'no-wrap',
      'no-rerun',
      'follow',
    ]),
    exec: { sets: 'exec' },
    differences: ATTACHED,
    interval: VALUE,
    equexit: VALUE,
  },
  abbrev: true,
  operand: ({ flags: set }) =>
    set.has('exec')
      ? 'program'
      : { role: 'code', what: 'part of the command watch hands to sh -c' },
});

const script = getopt('script', {
  short: {
    ...flags('aefqhV'),
    c: { arg: 'required', role: 'code' },
    ...named(['E', 'I', 'O', 'B', 'T', 'm', 'o'], VALUE),
    t: ATTACHED,
  },
  long: {
    ...HELP,
    ...named(['append', 'return', 'flush', 'force', 'quiet']),
    command: { arg: 'required', role: 'code' },
    ...named(
      ['echo', 'log-in', 'log-out', 'log-io', 'log-timing', 'logging-format', 'output-limit'],
      VALUE,
    ),
    timing: ATTACHED,
  },
  abbrev: true,
  permute: true,
  operand: () => ({ role: 'value', what: 'the typescript file' }),
});

/** ssh: the destination, options again, then a command line for the remote shell. */
const ssh = getopt('ssh', {
  short: {
    ...flags('46AaCfGgKkMNnqsTtVvXxYy'),
    ...named([...'BbcDEeFIiJLlmOopPQRSWw'], VALUE),
  },
  operand: ({ n }) =>
    n === 0
      ? { role: 'value', what: 'the destination', resume: true }
      : { role: 'code', what: 'the command line for the remote shell' },
});

const systemdRun = runner(
  'systemd-run',
  { ...flags('hqrdGtPS'), ...named(['u', 'p', 'E', 'H', 'M', 'C'], VALUE) },
  {
    ...named([
      'user',
      'system',
      'scope',
      'slice-inherit',
      'remain-after-exit',
      'send-sighup',
      'same-dir',
      'no-ask-password',
      'no-block',
      'wait',
      'pipe',
      'quiet',
      'collect',
      'shell',
      'pty',
      'verbose',
    ]),
    ...named(
      [
        'unit',
        'property',
        'description',
        'slice',
        'service-type',
        'uid',
        'gid',
        'nice',
        'working-directory',
        'setenv',
        'on-active',
        'on-boot',
        'on-startup',
        'on-unit-active',
        'on-unit-inactive',
        'on-calendar',
        'on-timezone-change',
        'on-clock-change',
        'timer-property',
        'path-property',
        'socket-property',
        'host',
        'machine',
        'capsule',
        'job-mode',
        'background',
        'expand-environment',
      ],
      VALUE,
    ),
  },
);

const doas = getopt('doas', {
  short: { L: FLAG, n: FLAG, s: { sets: 'shell' }, a: VALUE, C: VALUE, u: VALUE },
  operand: ({ flags: set }) =>
    set.has('shell') ? { role: 'unsure', what: 'doas -s, which takes no command' } : 'program',
});

const strace = runner(
  'strace',
  { ...flags('AcCdDfFhiknqrtTvVwxyYzZ'), ...named([...'abeEIoOpPsSuUX'], VALUE) },
  {
    ...named([
      'summary-only',
      'summary',
      'follow-forks',
      'output-separately',
      'no-abbrev',
      'seccomp-bpf',
      'stack-trace',
      'successful-only',
      'failed-only',
      'raw',
      'verbose',
    ]),
    ...named(
      [
        'trace',
        'signal',
        'abbrev',
        'read',
        'write',
        'output',
        'string-limit',
        'attach',
        'user',
        'env',
        'summary-sort-by',
        'summary-columns',
        'columns',
        'trace-path',
        'status',
      ],
      VALUE,
    ),
    ...named(
      [
        'timestamps',
        'syscall-times',
        'relative-timestamps',
        'decode-fds',
        'quiet',
        'absolute-timestamps',
        'instruction-pointer',
      ],
      ATTACHED,
    ),
  },
);

const ltrace = runner(
  'ltrace',
  { ...flags('bcCfhiLrStTV'), ...named([...'AaDeFlnopsuwx'], VALUE) },
  {
    ...named(['demangle', 'no-signals']),
    ...named(['align', 'config', 'debug', 'indent', 'library', 'output', 'where'], VALUE),
  },
);

/** sg GROUP COMMAND: the command line is handed to sh -c. */
const sg = getopt('sg', {
  operand: ({ n }) =>
    n === 0
      ? { role: 'value', what: 'the group' }
      : { role: 'code', what: 'the command sg hands to sh -c' },
});

export const RUNNERS: Record<string, Grammar> = {
  env,
  sudo,
  su: switchUser('su'),
  runuser: switchUser('runuser'),
  doas,
  flock,
  timeout: runner(
    'timeout',
    { f: FLAG, p: FLAG, v: FLAG, k: VALUE, s: VALUE },
    {
      foreground: FLAG,
      'preserve-status': FLAG,
      verbose: FLAG,
      'kill-after': VALUE,
      signal: VALUE,
    },
    ['the duration'],
  ),
  nice,
  ionice,
  nohup: runner('nohup', {}, {}),
  setsid: runner('setsid', flags('Vhcfw'), { ctty: FLAG, fork: FLAG, wait: FLAG }),
  stdbuf: runner(
    'stdbuf',
    named(['i', 'o', 'e'], VALUE),
    named(['input', 'output', 'error'], VALUE),
  ),
  chrt,
  chroot: runner('chroot', {}, { groups: VALUE, userspec: VALUE, 'skip-chdir': FLAG }, [
    'the new root',
  ]),
  nsenter: runner(
    'nsenter',
    {
      ...flags('aFZhV'),
      ...named(['t', 'S', 'G', 'W'], VALUE),
      ...named([...'muinpCUTrw'], ATTACHED),
    },
    {
      ...named([
        'all',
        'preserve-credentials',
        'env',
        'no-fork',
        'follow-context',
        'user-parent',
        'keep-caps',
      ]),
      ...named(['target', 'setuid', 'setgid', 'wdns', 'join-cgroup'], VALUE),
      ...named(
        ['mount', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'user', 'time', 'root', 'wd'],
        ATTACHED,
      ),
    },
  ),
  unshare: runner(
    'unshare',
    {
      ...flags('frchVkl'),
      ...named([...'muinpCTU'], ATTACHED),
      ...named(['R', 'w', 'S', 'G'], VALUE),
    },
    {
      ...named(['fork', 'map-root-user', 'map-current-user', 'map-auto', 'keep-caps']),
      ...named(
        [
          'kill-child',
          'mount',
          'uts',
          'ipc',
          'net',
          'pid',
          'cgroup',
          'user',
          'time',
          'mount-proc',
          'mount-binfmt',
        ],
        ATTACHED,
      ),
      ...named(
        [
          'map-user',
          'map-group',
          'map-users',
          'map-groups',
          'propagation',
          'setgroups',
          'setuid',
          'setgid',
          'root',
          'wd',
          'monotonic',
          'boottime',
          'load-interp',
        ],
        VALUE,
      ),
    },
  ),
  xargs,
  watch,
  script,
  ssh,
  'systemd-run': systemdRun,
  taskset,
  time: runner(
    'time',
    { a: FLAG, p: FLAG, q: FLAG, v: FLAG, V: FLAG, f: VALUE, o: VALUE },
    {
      append: FLAG,
      portability: FLAG,
      quiet: FLAG,
      verbose: FLAG,
      format: VALUE,
      output: VALUE,
    },
  ),
  command: runner('command', flags('pvV'), {}),
  exec: runner('exec', { c: FLAG, l: FLAG, a: VALUE }, {}),
  strace,
  ltrace,
  pkexec: runner('pkexec', {}, { user: VALUE, 'disable-internal-agent': FLAG, 'keep-cwd': FLAG }),
  sg,
  setpriv: runner(
    'setpriv',
    { d: FLAG, h: FLAG, V: FLAG },
    {
      ...named([
        'dump',
        'nnp',
        'no-new-privs',
        'reset-env',
        'clear-groups',
        'keep-groups',
        'init-groups',
      ]),
      ...named(
        [
          'reuid',
          'regid',
          'ruid',
          'rgid',
          'euid',
          'egid',
          'groups',
          'inh-caps',
          'ambient-caps',
          'bounding-set',
          'securebits',
          'pdeathsig',
          'selinux-label',
          'apparmor-profile',
          'landlock-access',
          'landlock-rule',
          'seccomp-filter',
        ],
        VALUE,
      ),
    },
  ),
  prlimit: runner(
    'prlimit',
    { ...named([...'cdefilmnqrstuvxy'], ATTACHED), p: VALUE, o: VALUE, h: FLAG, V: FLAG },
    {
      ...named(['verbose', 'raw', 'noheadings']),
      ...named(['pid', 'output'], VALUE),
      ...named(
        [
          'core',
          'data',
          'nice',
          'fsize',
          'sigpending',
          'memlock',
          'rss',
          'nofile',
          'msgqueue',
          'rtprio',
          'stack',
          'cpu',
          'nproc',
          'as',
          'locks',
          'rttime',
        ],
        ATTACHED,
      ),
    },
  ),
  numactl: runner(
    'numactl',
    { ...flags('alsHS'), ...named(['i', 'm', 'N', 'C', 'p', 'P', 'w'], VALUE) },
    {
      ...named(['all', 'localalloc', 'show', 'hardware', 'balancing']),
      ...named(
        [
          'interleave',
          'membind',
          'cpunodebind',
          'physcpubind',
          'preferred',
          'preferred-many',
          'weighted-interleave',
        ],
        VALUE,
      ),
    },
  ),
  sshpass: runner(
    'sshpass',
    { e: FLAG, v: FLAG, h: FLAG, V: FLAG, ...named(['p', 'f', 'd', 'P'], VALUE) },
    {},
  ),
  cgexec: runner('cgexec', { g: VALUE }, { sticky: FLAG }),
  setuidgid: runner('setuidgid', {}, {}, ['the user']),
  envdir: runner('envdir', {}, {}, ['the directory']),
  'su-exec': runner('su-exec', {}, {}, ['the user']),
  gosu: runner('gosu', {}, {}, ['the user']),
  chpst: runner('chpst', { ...flags('PvV012'), ...named([...'uUebnlLmdoptcfr'], VALUE) }, {}),
  runcon: runner(
    'runcon',
    { c: FLAG, ...named(['u', 'r', 't', 'l'], VALUE) },
    { compute: FLAG, ...named(['user', 'role', 'type', 'range'], VALUE) },
  ),
  fakeroot: runner(
    'fakeroot',
    { u: FLAG, h: FLAG, v: FLAG, ...named(['l', 's', 'i', 'b'], VALUE) },
    { lib: VALUE, faked: VALUE, 'unknown-is-real': FLAG },
  ),
  eatmydata: runner('eatmydata', {}, {}),
  torsocks: runner(
    'torsocks',
    { ...flags('iqdh'), ...named(['u', 'p', 'a', 'P'], VALUE) },
    { shell: FLAG },
  ),
  chronic: runner('chronic', flags('ev'), {}),
  ifne: runner('ifne', flags('n'), {}),
  unbuffer: runner('unbuffer', flags('p'), {}),
  catchsegv: runner('catchsegv', {}, {}),
  'dbus-run-session': runner(
    'dbus-run-session',
    {},
    { 'config-file': VALUE, 'dbus-daemon': VALUE },
  ),
  valgrind: getopt('valgrind', {
    short: flags('hqv'),
    anyLong: { arg: 'optional' },
    operand: () => 'program',
  }),
  tini: runner('tini', { ...flags('hsvwgl'), ...named(['p', 'e'], VALUE) }, {}),
  'dumb-init': runner(
    'dumb-init',
    { c: FLAG, v: FLAG, h: FLAG, V: FLAG, r: VALUE },
    { 'single-child': FLAG, verbose: FLAG, rewrite: VALUE },
  ),
  faketime: runner(
    'faketime',
    { m: FLAG, f: FLAG, ...named(['p', 'e'], VALUE) },
    { 'exclude-monotonic': FLAG, 'date-prog': VALUE },
    ['the time'],
  ),
};
