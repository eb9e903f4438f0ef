import type { JsonObject } from '@emisar/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argSpecsFromDeclared } from '../action.js';
import { checkInterpreterRule } from './index.js';

/**
 * The oracle: command lines are assembled from parts whose grammar is known by
 * construction, so each part says, for every gap between its elements and for
 * every element, whether an argument put there is data for the program that
 * reads it. The rule never sees these labels; it must find the same answer by
 * parsing.
 */
interface Part {
  els: string[];
  /** gaps[i]: an element inserted before els[i] (i = els.length: after the last) is data. */
  gaps: boolean[];
  /** swap[i]: els[i] replaced by the argument is data. */
  swap: boolean[];
  /** Like gaps and swap, for any number of elements (an array) instead of one. */
  gapsMany: boolean[];
  swapMany: boolean[];
}

/** A part whose single data slots (gaps, swap) do not take several elements in a row. */
const seq = (els: string[], gaps: boolean[], swap: boolean[]): Part => ({
  els,
  gaps,
  swap,
  gapsMany: gaps.map(() => false),
  swapMany: swap.map(() => false),
});
/** Elements no argument may take or sit between (options, settings, program text). */
const closed = (els: string[]): Part =>
  seq(
    els,
    els.map(() => false).concat(false),
    els.map(() => false),
  );

function join(...parts: Part[]): Part {
  const out: Part = { els: [], gaps: [false], swap: [], gapsMany: [false], swapMany: [] };
  for (const p of parts) {
    out.gaps.pop();
    out.gapsMany.pop();
    out.els.push(...p.els);
    out.gaps.push(...p.gaps);
    out.swap.push(...p.swap);
    out.gapsMany.push(...p.gapsMany);
    out.swapMany.push(...p.swapMany);
  }
  return out;
}

/** Data operands: every gap among and after them is data, and each may be replaced, by any number of elements. */
function data(count: number, opening = true): Part {
  const els = Array.from({ length: count }, (_, i) => `data${i}`);
  const gaps = [opening, ...els.map(() => true)];
  const swap = els.map(() => true);
  return { els, gaps, swap, gapsMany: gaps, swapMany: swap };
}

/** Nothing in the part takes several elements as data (an array item may be find's `;`). */
function single(part: Part): Part {
  return {
    ...part,
    gapsMany: part.gapsMany.map(() => false),
    swapMany: part.swapMany.map(() => false),
  };
}

const pick = <T>(...items: T[]) => fc.constantFrom(...items);
const flagsOf = (choices: string[][]) =>
  fc
    .subarray(choices)
    .chain((chosen) => fc.shuffledSubarray(chosen, { minLength: chosen.length }))
    .map((c) => c.flat());

const name = (base: fc.Arbitrary<string>) =>
  fc.tuple(pick('', '/usr/bin/', '/bin/', '/usr/local/bin/'), base).map(([dir, b]) => dir + b);

const SH_FLAGS = [['-e'], ['-u'], ['-x'], ['-v'], ['-o', 'pipefail'], ['+x'], ['-eu']];
const shellName = name(
  pick('sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'rbash', 'ksh93', 'bash5'),
);

/** sh-family: -c in any cluster, options before and after it, `--`, then program text, $0 and data. */
const shellC: fc.Arbitrary<Part> = fc
  .record({
    prog: shellName,
    before: flagsOf(SH_FLAGS),
    cluster: pick('-c', '-ec', '-xc', '-cx', '-euc', '-ce'),
    after: flagsOf([['-e'], ['-u'], ['-x'], ['-v'], ['-o', 'errexit']]),
    dashes: fc.boolean(),
    extra: fc.nat(3),
  })
  .map(({ prog, before, cluster, after, dashes, extra }) =>
    join(
      closed([prog, ...before, cluster, ...after, ...(dashes ? ['--'] : []), 'echo "$@"']),
      data(1 + extra),
    ),
  );

/** sh-family reading a script file, or stdin with -s, then data. */
const shellScript: fc.Arbitrary<Part> = fc
  .record({ prog: shellName, before: flagsOf(SH_FLAGS), stdin: fc.boolean(), extra: fc.nat(3) })
  .map(({ prog, before, stdin, extra }) =>
    stdin
      ? join(closed([prog, ...before, '-s', '--']), data(extra))
      : join(closed([prog, ...before, '--', '/opt/tool/run.sh']), data(extra)),
  );

const cshC: fc.Arbitrary<Part> = fc
  .record({ prog: name(pick('csh', 'tcsh')), extra: fc.nat(3) })
  .map(({ prog, extra }) => join(closed([prog, '-f', '-c', 'echo $argv', '-b']), data(extra)));

const fishC: fc.Arbitrary<Part> = fc
  .record({ prog: name(pick('fish')), extra: fc.nat(3) })
  .map(({ prog, extra }) =>
    join(closed([prog, '--no-config', '-c', 'echo $argv', '--']), data(extra)),
  );

const pythonName = name(
  pick('python', 'python3', 'python3.12', 'python3.13t', 'python2.7', 'pypy3'),
);
const python: fc.Arbitrary<Part> = fc
  .record({
    prog: pythonName,
    opts: flagsOf([
      ['-I'],
      ['-E'],
      ['-s'],
      ['-u'],
      ['-B'],
      ['-W', 'ignore'],
      ['-X', 'dev'],
      ['-Es'],
    ]),
    form: pick('-c', '-Ic', '-m', 'script', '-'),
    extra: fc.nat(3),
  })
  .map(({ prog, opts, form, extra }) => {
    if (form === 'script') return join(closed([prog, ...opts, '/opt/tool/run.py']), data(extra));
    if (form === '-') return join(closed([prog, ...opts, '-']), data(extra));
    const text = form === '-m' ? 'json.tool' : 'import sys; print(sys.argv)';
    return join(closed([prog, ...opts, form, text]), data(extra));
  });

/** perl/ruby/php/node: program text by option, then `--` before data (switches are read until then). */
const textThenDashes: fc.Arbitrary<Part> = fc
  .record({
    which: pick(
      ['perl', '-e', ['-w', '-l', '-CS', '-Mstrict']],
      ['perl5.36', '-E', ['-w', '-l']],
      ['ruby', '-e', ['-w', '-W0', '-Ku']],
      ['ruby3.2', '-e', ['-rjson']],
      ['php', '-r', ['-n', '-d', 'display_errors=1']],
      ['php8.2', '-r', ['-n']],
      ['node', '-e', ['--no-warnings']],
      ['nodejs', '--eval', ['--enable-source-maps']],
      ['node', '-p', ['--no-deprecation']],
      ['osascript', '-e', ['-s', 'o']],
    ) as fc.Arbitrary<[string, string, string[]]>,
    prefix: pick('', '/usr/bin/'),
    withOpts: fc.boolean(),
    extra: fc.nat(3),
  })
  .map(({ which: [prog, flag, opts], prefix, withOpts, extra }) =>
    join(closed([prefix + prog, ...(withOpts ? opts : []), flag, 'code()', '--']), data(extra)),
  );

/** Interpreters given a script file: everything after it is data. */
const scriptFile: fc.Arbitrary<Part> = fc
  .record({
    which: pick<[string, string[]]>(
      ['perl', ['-w']],
      ['ruby', ['-w']],
      ['node', ['--no-warnings']],
      ['php', ['-n']],
      ['lua5.4', ['-W']],
      ['luajit', []],
      ['tclsh8.6', []],
      ['Rscript', ['--vanilla']],
      ['expect', ['-d']],
    ),
    prefix: pick('', '/usr/bin/'),
    withOpts: fc.boolean(),
    extra: fc.nat(3),
  })
  .map(({ which: [prog, opts], prefix, withOpts, extra }) =>
    join(closed([prefix + prog, ...(withOpts ? opts : []), '/opt/tool/script']), data(extra)),
  );

/** awk: program text as the first operand, then files and assignments. */
const awk: fc.Arbitrary<Part> = fc
  .record({
    prog: name(pick('awk', 'gawk', 'mawk', 'nawk', 'original-awk')),
    opts: flagsOf([['-F:'], ['-v', 'n=1'], ['-F', ',']]),
    dashes: fc.boolean(),
    extra: fc.nat(3),
  })
  .map(({ prog, opts, dashes, extra }) =>
    join(closed([prog, ...opts, ...(dashes ? ['--'] : []), '{print $1}']), data(extra)),
  );

/** sed and jq read options among their operands: data only after `--`. */
const permuting: fc.Arbitrary<Part> = fc
  .record({
    which: pick<string[]>(
      ['sed', '-n', 's/a/b/p'],
      ['sed', '-e', 's/a/b/'],
      ['gsed', '-E', 's/a+/b/'],
      ['jq', '-r', '.name'],
      ['jq', '-c', '.[]'],
    ),
    extra: fc.nat(3),
  })
  .map(({ which, extra }) => join(closed([...which, '--']), data(extra)));

/** jq --arg NAME VALUE: the value is data. */
const jqArg: fc.Arbitrary<Part> = fc.constant(
  join(
    closed(['jq', '-n', '--arg', 'name']),
    seq(['value'], [true, false], [true]),
    closed(['$name']),
  ),
);

const interpreter = fc.oneof(
  shellC,
  shellScript,
  cshC,
  fishC,
  python,
  textThenDashes,
  scriptFile,
  awk,
  permuting,
  jqArg,
);

/** Command runners: each gap and element of their own is a setting, an option or the program to run. */
const wrapper: fc.Arbitrary<string[]> = fc.oneof(
  fc.constantFrom<string[]>(
    ['env'],
    ['env', '-i'],
    ['env', 'LANG=C', 'FOO=bar'],
    ['env', '-u', 'HOME', '--'],
    ['timeout', '5'],
    ['timeout', '-k', '2', '-s', 'KILL', '10s'],
    ['timeout', '--foreground', '5'],
    ['nice'],
    ['nice', '-n', '10'],
    ['nohup'],
    ['setsid', '-w'],
    ['stdbuf', '-oL'],
    ['sudo'],
    ['sudo', '-n', '-u', 'postgres'],
    ['sudo', '-E', '--'],
    ['flock', '/tmp/lock'],
    ['flock', '-n', '-w', '5', '/run/x.lock'],
    ['xargs', '-0', '-r'],
    ['ionice', '-c3'],
    ['ionice', '-c', '2', '-n', '7'],
    ['chroot', '/srv/root'],
    ['nsenter', '-t', '1', '-m', '--'],
    ['unshare', '-m', '--'],
    ['systemd-run', '--wait', '--pipe', '--'],
    ['strace', '-f', '-o', '/dev/null'],
    ['time', '-p'],
    ['taskset', '0x1'],
    ['chrt', '-o', '0'],
    ['runuser', '-u', 'nobody', '--'],
    ['doas', '-u', 'root'],
    ['command'],
    ['watch', '-x', '-n', '5'],
    ['setpriv', '--reuid=1000', '--'],
  ),
  fc
    .tuple(pick('/usr/bin/', '/bin/'), pick('env', 'nice', 'nohup', 'timeout'))
    .map(([d, n]) => (n === 'timeout' ? [d + n, '3'] : [d + n])),
);

/** find … -exec COMMAND ; -print: the command is nested, what follows `;` is find's expression again. */
function withinFind(inner: Part): Part {
  // The value of -name is data for find; the element after it is not.
  const lead = seq(
    ['find', '/var/log', '-name', '*.log', '-exec'],
    [false, false, false, true, false, false],
    [false, false, false, true, false],
  );
  // Right before `;`, or in its place, an argument is the command's last one (or the `;` itself).
  const last = inner.gaps[inner.gaps.length - 1]!;
  const end = seq([';', '-print'], [last, false, false], [last, false]);
  return join(lead, single(inner), end);
}

const shape: fc.Arbitrary<Part> = fc
  .record({
    wrappers: fc.array(wrapper, { maxLength: 4 }),
    inner: interpreter,
    find: fc.boolean(),
  })
  .map(({ wrappers, inner, find }) => {
    const chain = join(...wrappers.map(closed), inner);
    return find ? withinFind(chain) : chain;
  });

type Placement = { insert: boolean; index: number; form: string };

/** Where the argument goes: inserted into a gap, or replacing an element; whole or spliced. */
const placement: fc.Arbitrary<Placement> = fc.record({
  insert: fc.boolean(),
  index: fc.nat(),
  form: pick('whole', 'whole', 'whole', 'prefix', 'suffix', 'option'),
});

const OPEN_ARGS: Record<string, JsonObject> = {
  x: { type: 'string' },
  pat: { type: 'string', validation: { pattern: '^[a-z ;|$()-]+$' } },
  n: { type: 'integer', validation: { max: 10 } },
  xs: { type: 'string_array' },
};

const arg = pick('x', 'pat', 'n', 'xs');

function build(part: Part, p: Placement, which: string) {
  const whole = `{{ args.${which} }}`;
  const text =
    p.form === 'whole' || which === 'xs'
      ? whole
      : p.form === 'prefix'
        ? `pre-${whole}`
        : p.form === 'suffix'
          ? `${whole}.txt`
          : `--opt=${whole}`;
  const spliced = text !== whole;
  const many = which === 'xs';
  const els = [...part.els];
  let safe: boolean;
  if (p.insert) {
    const gap = 1 + (p.index % part.els.length);
    els.splice(gap, 0, text);
    safe = (many ? part.gapsMany : part.gaps)[gap]!;
  } else {
    const at = 1 + (p.index % (part.els.length - 1 || 1));
    if (at >= part.els.length) return undefined;
    els[at] = text;
    safe = (many ? part.swapMany : part.swap)[at]!;
  }
  return { binary: els[0]!, argv: els.slice(1), safe: safe && !spliced };
}

const specs = argSpecsFromDeclared(Object.entries(OPEN_ARGS).map(([n, d]) => ({ name: n, ...d })));

describe('the interpreter rule over generated command lines', () => {
  it('accepts only when every open-ended value sits whole in a data position', () => {
    fc.assert(
      fc.property(shape, placement, arg, (part, p, which) => {
        const built = build(part, p, which);
        fc.pre(built !== undefined);
        const verdict = checkInterpreterRule({ binary: built!.binary, argv: built!.argv }, specs);
        if (verdict === undefined) expect(built!.safe, JSON.stringify(built)).toBe(true);
        else expect(verdict).toContain(`argument ${which} (open-ended)`);
      }),
      { numRuns: 1500 },
    );
  });

  it('lets a whole open-ended value through in every data position it generates', () => {
    fc.assert(
      fc.property(shape, placement, arg, (part, p, which) => {
        const built = build(part, { ...p, form: 'whole' }, which);
        fc.pre(built?.safe === true);
        const verdict = checkInterpreterRule({ binary: built!.binary, argv: built!.argv }, specs);
        expect(verdict, JSON.stringify(built)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses every generated shape with the value in program text', () => {
    fc.assert(
      fc.property(shape, (part) => {
        const code = part.els.findIndex(
          (e) => e === 'echo "$@"' || e === 'code()' || e === '{print $1}',
        );
        fc.pre(code > 0);
        const els = [...part.els];
        els[code] = `${els[code]} {{ args.x }}`;
        expect(checkInterpreterRule({ binary: els[0]!, argv: els.slice(1) }, specs)).toContain(
          'argument x (open-ended) is spliced into',
        );
      }),
      { numRuns: 300 },
    );
  });
});
