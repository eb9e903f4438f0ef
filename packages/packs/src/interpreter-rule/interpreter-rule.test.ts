import type { JsonObject } from '@emisar/protocol';
import { describe, expect, it } from 'vitest';
import { argSpecsFromDeclared } from '../action.js';
import { checkInterpreterRule } from './index.js';

const OPEN = { x: { type: 'string' } };
const BOUNDED = {
  mode: { type: 'string', validation: { enum: ['fast', 'slow', '-v'] } },
  n: { type: 'integer', validation: { min: 1, max: 100 } },
  host: { type: 'string', validation: { enum: ['db1', 'db2'] } },
};

function specs(declared: Record<string, JsonObject>) {
  return argSpecsFromDeclared(Object.entries(declared).map(([name, d]) => ({ name, ...d })));
}

function check(
  binary: string,
  argv: string[],
  declared: Record<string, JsonObject> = OPEN,
  script?: string,
): string | undefined {
  const execution = script
    ? { binary, argv, script: { path: script, interpreter: binary, absolutePath: '', sha256: '' } }
    : { binary, argv };
  return checkInterpreterRule(execution, specs(declared));
}

const x = '{{ args.x }}';

describe('the interpreter rule refuses', () => {
  it.each([
    [
      'bash',
      ['-c', '-e', `echo ${x}`],
      'argument x (open-ended) is spliced into argv[2], which reaches bash as program text',
    ],
    ['sh', ['-c', '--', `echo ${x}`], 'is spliced into argv[2], which reaches sh as program text'],
    [
      'bash',
      ['-xc', '-v', `echo ${x}`],
      'is spliced into argv[2], which reaches bash as program text',
    ],
    [
      'bash',
      ['-c', x],
      'argument x (open-ended) reaches bash as program text (or an option) in argv[1]',
    ],
    ['python3', ['-c', `print("${x}")`], 'reaches python3 as program text'],
    ['python3', ['-c', x], 'reaches python3 as program text'],
    ['perl', ['-e', `print "${x}"`], 'reaches perl as program text'],
    ['perl', ['-le', x], 'reaches perl as program text'],
    ['perl', ['-ne', 'print', '--', x], 'reaches perl as program text (a file name for -n/-p'],
    ['perl', ['-e', 'print $ARGV[0]', x], 'reaches perl where it reads options'],
    [
      'find',
      ['/var/log', '-name', '*.log', '-exec', 'sh', '-c', `echo ${x}`, ';'],
      'reaches sh (run by find -exec) as program text',
    ],
    ['xargs', ['sh', '-c', `echo ${x}`], 'reaches sh (run by xargs) as program text'],
    ['flock', ['/tmp/lock', '-c', `echo ${x}`], 'reaches flock as program text'],
    ['flock', ['/tmp/lock', 'bash', '-c', x], 'reaches bash (run by flock) as program text'],
    ['su', ['-c', `echo ${x}`, 'root'], 'reaches su as program text'],
    ['mksh', ['-c', `echo ${x}`], 'reaches mksh as program text'],
    ['/usr/bin/bash', ['-c', x], 'reaches bash as program text'],
    ['python3.12', ['-c', x], 'reaches python3.12 as program text'],
    ['perl5.36', ['-e', x], 'reaches perl5.36 as program text'],
    ['env', ['FOO=bar', 'bash', '-c', x], 'reaches bash (run by env) as program text'],
    [
      'sudo',
      ['-u', 'postgres', 'env', 'timeout', '5', 'nice', '-n', '5', 'sh', '-ec', x],
      'reaches sh (run by sudo, then env, then timeout, then nice) as program text',
    ],
    ['env', [x], 'reaches env as the program to run'],
    ['timeout', ['5', x], 'reaches timeout as the program to run'],
    ['bash', [x], 'reaches bash as the script it runs'],
    ['bash', ['-o', x, '-c', 'true'], 'the value of option -o'],
    ['bash', [x, '-c', 'true'], 'reaches bash as the script it runs (or an option) in argv[0]'],
    ['sh', ['-c', 'echo "$1"', '--', `pre${x}`], 'is spliced into argv[3]'],
    ['bash', ['-c', 'true', '-O', x], undefined],
    ['ruby', ['-e', x], 'reaches ruby as program text'],
    ['node', ['-e', x], 'reaches node as program text'],
    ['nodejs', ['--eval', x], 'reaches nodejs as program text'],
    ['php', ['-r', x], 'reaches php as program text'],
    ['lua5.4', ['-e', x], 'reaches lua5.4 as program text'],
    ['lua', ['-e', 'print(arg[1])', x], 'reaches lua as the script it runs'],
    ['awk', [x], 'reaches awk as program text'],
    ['gawk', ['-F:', `{print "${x}"}`], 'reaches gawk as program text'],
    ['sed', ['-n', x], 'reaches sed as program text'],
    ['sed', ['s/a/b/', x], 'reaches sed where it reads options'],
    ['jq', [`.${x}`], 'reaches jq as program text'],
    ['tclsh', [x], 'reaches tclsh as the script it runs'],
    ['osascript', ['-e', x], 'reaches osascript as program text'],
    ['zsh', ['-c', x], 'reaches zsh as program text'],
    ['tcsh', ['-c', x], 'reaches tcsh as program text'],
    ['fish', ['--command', x], 'reaches fish as program text'],
    ['dash', ['-euc', x], 'reaches dash as program text'],
    ['busybox', ['sh', '-c', x], 'reaches sh (run by busybox) as program text'],
    ['ssh', ['host', 'uptime', x], 'reaches ssh as program text'],
    ['watch', ['-n', '5', 'echo', x], 'reaches watch as program text'],
    ['watch', ['-x', 'bash', '-c', x], 'reaches bash (run by watch) as program text'],
    ['script', ['-qc', x, '/dev/null'], 'reaches script as program text'],
    [
      'systemd-run',
      ['--wait', 'bash', '-c', x],
      'reaches bash (run by systemd-run) as program text',
    ],
    [
      'runuser',
      ['-u', 'nobody', '--', 'bash', '-c', x],
      'reaches bash (run by runuser) as program text',
    ],
    ['sudo', ['-s', 'echo', x], 'reaches sudo as program text'],
    ['doas', ['-u', 'root', 'sh', '-c', x], 'reaches sh (run by doas) as program text'],
    ['unshare', ['-m', 'sh', '-c', x], 'reaches sh (run by unshare) as program text'],
    [
      'nsenter',
      ['-t', '1', '-m', '--', 'sh', '-c', x],
      'reaches sh (run by nsenter) as program text',
    ],
    ['chroot', ['/srv/root', 'sh', '-c', x], 'reaches sh (run by chroot) as program text'],
    ['ip', ['netns', 'exec', 'blue', 'sh', '-c', x], 'reaches sh (run by ip) as program text'],
    ['stdbuf', ['-oL', 'sh', '-c', x], 'reaches sh (run by stdbuf) as program text'],
    ['setsid', ['-w', 'sh', '-c', x], 'reaches sh (run by setsid) as program text'],
    ['ionice', ['-c3', 'sh', '-c', x], 'reaches sh (run by ionice) as program text'],
    ['chrt', ['-b', '0', 'sh', '-c', x], 'reaches sh (run by chrt) as program text'],
    ['taskset', ['0x1', 'sh', '-c', x], 'reaches sh (run by taskset) as program text'],
    ['strace', ['-f', 'sh', '-c', x], 'reaches sh (run by strace) as program text'],
    ['nohup', ['sh', '-c', x], 'reaches sh (run by nohup) as program text'],
    ['pwsh', ['-Command', x], 'reaches pwsh where its position cannot be told'],
    [
      'sudo',
      ['--frobnicate', 'sh', '-c', 'true', x],
      'cannot be told (option --frobnicate, which emisar does not know)',
    ],
    ['psql', ['-c', x], 'reaches psql as the start of a psql command'],
    ['tar', ['-czf', x, '/etc'], 'reaches tar where it reads options'],
  ])('%s %j', (binary, argv, reason) => {
    const got = check(binary, argv);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(reason);
  });

  it('names a bounded value that chooses the program', () => {
    expect(check('env', ['{{ args.host }}'], BOUNDED)).toContain(
      'argument host (a bounded value) chooses the program env runs, in argv[0]',
    );
  });

  it('follows an optional element both ways', () => {
    const dashS = { ...OPEN, flag: { type: 'string', validation: { enum: ['-s'] } } };
    const dashC = { ...OPEN, flag: { type: 'string', validation: { enum: ['-c'] } } };
    expect(check('bash', ['{{ args.flag? }}', '--', x], dashS)).toContain('as the script it runs');
    expect(check('bash', ['-s', '{{ args.flag? }}', x], dashC)).toContain('as program text');
    expect(check('bash', ['-s', '{{ args.flag? }}', '--', x], dashS)).toBeUndefined();
  });

  it('refuses arrays of open-ended values in code positions', () => {
    expect(check('bash', ['-c', '{{ args.xs }}'], { xs: { type: 'string_array' } })).toContain(
      'argument xs (open-ended) reaches bash as program text (or an option) in argv[1]',
    );
  });

  it('checks a script action after its script path', () => {
    expect(check('/bin/bash', ['--message', x], OPEN, 'scripts/echo.sh')).toBeUndefined();
    expect(check('/usr/bin/env', ['bash', '-c', x], OPEN, 'scripts/x.sh')).toBeUndefined();
  });
});

describe('the interpreter rule in execution.env', () => {
  const run = (env: Record<string, string>, binary = 'uptime') =>
    checkInterpreterRule({ binary, argv: [], env }, specs({ ...OPEN, ...BOUNDED }));

  it.each([
    ['PATH', '/usr/bin:{{ args.x }}', 'where programs are looked up'],
    ['NODE_OPTIONS', '{{ args.x }}', 'node options'],
    ['PERL5OPT', '{{ args.x }}', 'perl switches'],
    ['LUA_INIT_5_4', '{{ args.x }}', 'lua code'],
    ['GIT_CONFIG_VALUE_0', '{{ args.x }}', 'git configuration'],
  ])('refuses an open-ended value in %s', (key, value, what) => {
    expect(run({ [key]: value })).toContain(
      `argument x (open-ended) reaches execution.env.${key}, which programs read as ${what}`,
    );
  });

  it('lets data variables and bounded values through', () => {
    expect(run({ MESSAGE: '{{ args.x }}' }, 'bash')).toBeUndefined();
    expect(run({ PATH: '/usr/bin:/opt/{{ args.mode }}/bin' })).toBeUndefined();
    expect(run({ PATH: '/usr/bin:/bin' })).toBeUndefined();
  });
});

describe('the interpreter rule lets through', () => {
  it.each([
    ['bash', ['-c', 'echo "$1"', 'name', x]],
    ['sh', ['-euc', 'printf "%s\\n" "$1"', '--', x]],
    ['bash', ['-o', 'pipefail', '-c', 'head -n "$1" /var/log/syslog', 'tail', x]],
    ['python3', ['/opt/tool/script.py', x]],
    ['python3', ['-c', 'import sys; print(sys.argv[1])', x]],
    ['python3', ['-I', '-c', 'import sys', '-v', x]],
    ['perl', ['-e', 'print $ARGV[0]', '--', x]],
    ['env', ['FOO=bar', '/usr/bin/uptime']],
    ['timeout', ['5', 'ping', '-c', '1', '{{ args.host }}']],
    ['timeout', ['5', 'ping', '-c', '1', x]],
    ['/usr/bin/env', ['LANG=C', 'grep', '-e', x, '--', '/var/log/syslog']],
    ['find', ['/var/log', '-name', x, '-mtime', '+1', '-print']],
    ['find', ['{{ args.dir }}', '-maxdepth', '1', '-exec', 'wc', '-l', '{}', '+']],
    ['sudo', ['-n', '-u', 'postgres', 'psql', '-XAt', '-c', `SELECT '${x}'`]],
    ['xargs', ['-0', 'sh', '-c', 'echo "$@"', 'xargs-sh']],
    ['awk', ['{print $1}', x]],
    ['awk', ['-v', 'n=5', '--', '{print n}', x]],
    ['sed', ['-n', 's/a/b/p', '--', x]],
    ['jq', ['-r', '--arg', 'name', x, '.[$name]']],
    ['bash', ['-c', 'sleep {{ args.n }}; echo {{ args.mode }}']],
    ['tar', ['-czf', '/tmp/out.tgz', '--', x]],
    ['ip', ['-j', 'addr', 'show', x]],
    ['kubectl', ['get', 'pods', '-n', 'default', '--', x]],
    ['ping', ['-c', '1', x]],
    ['sudo', ['-u', 'root', 'cat', '--', `/proc/${x}/status`]],
    ['nice', ['-n', '10', 'sh', '-c', 'echo "$0"', x]],
    ['fish', ['-c', 'echo $argv', '--', x]],
    ['tcsh', ['-c', 'echo $argv', '-b', x]],
  ])('%s %j', (binary, argv) => {
    expect(check(binary, argv, { ...OPEN, ...BOUNDED, dir: { type: 'path' } })).toBeUndefined();
  });
});
