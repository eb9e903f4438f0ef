import { parseTemplate } from '../template.js';
import type { ArgSpec } from '../types.js';
import { argShape } from './values.js';

/**
 * Environment variables that programs read as program text, options, a place
 * to load code from or a program to run. An open-ended value in one of them is
 * not data, whatever program the action runs (PATH picks every program, and
 * GCONV_PATH loads code into any program using iconv).
 */
const CODE_VARIABLES: Record<string, string> = {
  PATH: 'where programs are looked up',
  SHELL: 'the shell that flock -c, script, su -m and others run',
  ENV: 'a file sh and ksh source',
  ZDOTDIR: 'where zsh reads its startup files',
  PS4: 'text bash expands (with command substitution) under -x',
  PROMPT_COMMAND: 'bash program text',
  SHELLOPTS: 'bash options',
  BASHOPTS: 'bash options',
  GCONV_PATH: 'where glibc loads iconv modules from',
  PERL5OPT: 'perl switches',
  PERL5LIB: 'where perl loads modules from',
  PERLLIB: 'where perl loads modules from',
  PERL5DB: 'perl debugger code',
  RUBYOPT: 'ruby options',
  RUBYLIB: 'where ruby loads libraries from',
  PYTHONPATH: 'where python imports from',
  PYTHONHOME: 'where python imports from',
  PYTHONSTARTUP: 'a file python runs',
  PYTHONWARNINGS: 'python warning filters, which import modules',
  PYTHONBREAKPOINT: 'a callable python imports',
  NODE_OPTIONS: 'node options (--require runs code)',
  NODE_PATH: 'where node loads modules from',
  PHPRC: 'the php.ini php reads (auto_prepend_file runs code)',
  PHP_INI_SCAN_DIR: 'where php reads ini files',
  TCLLIBPATH: 'where tclsh loads packages from',
  AWKPATH: 'where gawk finds -f and @include files',
  AWKLIBPATH: 'where gawk loads extensions from',
  PSQLRC: 'a file of psql commands (\\! runs a shell)',
  JAVA_TOOL_OPTIONS: 'JVM options (-javaagent loads code)',
  _JAVA_OPTIONS: 'JVM options',
  JDK_JAVA_OPTIONS: 'JVM options',
  GIT_SSH_COMMAND: 'a command git runs',
  GIT_SSH: 'a program git runs',
  GIT_PROXY_COMMAND: 'a command git runs',
  GIT_EXTERNAL_DIFF: 'a program git runs',
  GIT_PAGER: 'a command git runs',
  GIT_EDITOR: 'a command git runs',
  GIT_ASKPASS: 'a program git runs',
  GIT_EXEC_PATH: 'where git finds its programs',
  GIT_CONFIG_PARAMETERS: 'git configuration (core.sshCommand, core.pager …)',
  SSH_ASKPASS: 'a program ssh runs',
  SUDO_ASKPASS: 'a program sudo runs',
  EDITOR: 'a command programs run',
  VISUAL: 'a command programs run',
  PAGER: 'a command programs run',
  MANPAGER: 'a command man runs',
  SYSTEMD_PAGER: 'a command systemd tools run',
  SYSTEMD_EDITOR: 'a command systemctl edit runs',
  LESSOPEN: 'a command less runs',
  LESSCLOSE: 'a command less runs',
  BROWSER: 'a program programs run',
  RSYNC_RSH: 'the remote shell rsync runs',
  TAR_OPTIONS: 'tar options (--to-command runs commands)',
};
const CODE_PREFIXES: [string, string][] = [
  ['LUA_INIT', 'lua code run at start-up'],
  ['LUA_PATH', 'where lua loads modules from'],
  ['LUA_CPATH', 'where lua loads C modules from'],
  ['GIT_CONFIG_', 'git configuration (core.sshCommand, core.pager …)'],
];

function readAs(key: string): string | undefined {
  return CODE_VARIABLES[key] ?? CODE_PREFIXES.find(([prefix]) => key.startsWith(prefix))?.[1];
}

/** Why an open-ended value may not reach one of the environment variables, or undefined. */
export function checkEnvironment(
  env: Readonly<Record<string, string>>,
  args: readonly ArgSpec[],
): string | undefined {
  const specs = new Map(args.map((a) => [a.name, a]));
  for (const [key, template] of Object.entries(env)) {
    const what = readAs(key);
    if (what === undefined) continue;
    const parts = parseTemplate(template);
    if ('error' in parts) continue;
    for (const part of parts) {
      const spec = part.kind === 'arg' ? specs.get(part.name) : undefined;
      if (spec !== undefined && argShape(spec).open)
        return `argument ${spec.name} (open-ended) reaches execution.env.${key}, which programs read as ${what}; only variables a program reads as data may carry it`;
    }
  }
  return undefined;
}
