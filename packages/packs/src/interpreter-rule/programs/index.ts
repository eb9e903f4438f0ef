import { getopt } from '../getopt.js';
import type { Grammar } from '../types.js';
import { RUNNERS } from './runners.js';
import { SCRIPTING } from './scripting.js';
import { SH_VARIANTS, SHELLS } from './shells.js';
import { find, ip, opaque, optionRunner, subcommands } from './special.js';

const busybox = getopt('busybox', {
  long: { list: {}, 'list-full': {}, help: {}, install: { ends: true, sets: 'install' } },
  operand: ({ flags }) =>
    flags.has('install') ? { role: 'unsure', what: 'busybox --install' } : 'program',
});

const OPAQUE = [
  'pwsh',
  'powershell',
  'ipython',
  'ipython3',
  'deno',
  'bun',
  'tsx',
  'ts-node',
  'R',
  'wish',
  'gdb',
  'lldb',
  'parallel',
  'sem',
  'pee',
  'screen',
  'tmux',
  'at',
  'batch',
  'crontab',
  'make',
  'gmake',
  'ansible',
  'ansible-playbook',
  'firejail',
  'bwrap',
  'flatpak-spawn',
  'systemd-nspawn',
  'machinectl',
  'schroot',
  'lxc-attach',
  'lxc-execute',
  'start-stop-daemon',
  'daemonize',
  'cpulimit',
  'trickle',
  'proxychains',
  'proxychains4',
  'xvfb-run',
  'vim',
  'vi',
  'nvim',
  'view',
  'ex',
  'vimdiff',
  'emacs',
  'irb',
];
const OPTION_RUNNERS = [
  'tar',
  'bsdtar',
  'gtar',
  'rsync',
  'scp',
  'sftp',
  'git',
  'zip',
  'wget',
  'man',
  'less',
  'more',
];
const CONTAINER_READS = [
  'ps',
  'logs',
  'inspect',
  'images',
  'stats',
  'top',
  'version',
  'info',
  'events',
  'port',
  'diff',
  'history',
];
const CLUSTER_READS = [
  'get',
  'describe',
  'logs',
  'top',
  'explain',
  'version',
  'api-resources',
  'api-versions',
  'cluster-info',
  'events',
];

/** Grammar keys by program name; `sh` is every shell it may be. */
const GRAMMARS: Record<string, Grammar> = {
  ...SHELLS,
  ...SCRIPTING,
  ...RUNNERS,
  find,
  ip,
  busybox,
  ...Object.fromEntries(OPAQUE.map((name) => [name, opaque(name)])),
  ...Object.fromEntries(OPTION_RUNNERS.map((name) => [name, optionRunner(name)])),
  docker: subcommands('docker', CONTAINER_READS),
  podman: subcommands('podman', CONTAINER_READS),
  nerdctl: subcommands('nerdctl', CONTAINER_READS),
  kubectl: subcommands('kubectl', CLUSTER_READS),
  oc: subcommands('oc', CLUSTER_READS),
};

const ALIASES: Record<string, string[]> = {
  sh: SH_VARIANTS,
  rbash: ['bash'],
  hush: ['ash'],
  ksh93: ['ksh'],
  ksh88: ['ksh'],
  pdksh: ['ksh'],
  oksh: ['ksh'],
  loksh: ['ksh'],
  lksh: ['mksh'],
  rzsh: ['zsh'],
  bosh: SH_VARIANTS,
  tcsh: ['csh'],
  'bsd-csh': ['csh'],
  pypy: ['python'],
  nodejs: ['node'],
  'php-cli': ['php'],
  'php-cgi': ['php'],
  luajit: ['lua'],
  texlua: ['lua'],
  gawk: ['awk'],
  mawk: ['awk'],
  nawk: ['awk'],
  'original-awk': ['awk'],
  goawk: ['awk'],
  gsed: ['sed'],
  ssed: ['sed'],
  gojq: ['jq'],
  jaq: ['jq'],
  jimsh: ['tclsh'],
  mariadb: ['mysql'],
  sqlite: ['sqlite3'],
  sudoedit: ['sudo'],
  gfind: ['find'],
  toybox: ['busybox'],
};

// python3.12, perl5.36.0, lua5.4, ruby3.2, php8.2, tclsh8.6, node18, bash5, gawk-5.1, python3.13t
const VERSION_SUFFIX = /^(.+?)[-_]?\d+(?:\.\d+)*[a-z]?$/;

function keysFor(name: string): string[] | undefined {
  if (ALIASES[name]) return ALIASES[name];
  if (GRAMMARS[name]) return [name];
  return undefined;
}

/**
 * The grammars a program name may stand for, matched on its basename
 * (`/usr/bin/bash`), also when versioned (`python3.12`); empty for a program
 * that runs nothing from its arguments.
 */
export function grammarsFor(program: string): { key: string; grammar: Grammar }[] {
  const base = program.slice(program.lastIndexOf('/') + 1);
  const keys = keysFor(base) ?? keysFor(VERSION_SUFFIX.exec(base)?.[1] ?? '') ?? [];
  return keys.map((key) => ({ key, grammar: GRAMMARS[key]! }));
}

export function grammar(key: string): Grammar {
  return GRAMMARS[key]!;
}
