import { elementType } from './args.js';
import { parseTemplate } from './template.js';
import type { ArgSpec } from './types.js';

const SHELLS = new Set(['/bin/sh', 'sh', 'bash', 'dash', 'ash', 'ksh', 'zsh', 'busybox']);
// Programs that run their arguments as another command line, so `env sh -c …` is caught too.
const WRAPPERS = new Set([
  'env',
  'nice',
  'nohup',
  'setsid',
  'timeout',
  'stdbuf',
  'ionice',
  'sudo',
  'chrt',
]);
const FLAG_CLUSTER_WITH_C = /^-[A-Za-z]*c[A-Za-z]*$/;

export function runsShellProgram(binary: string): boolean {
  return SHELLS.has(binary) || WRAPPERS.has(binary);
}

/**
 * Why an arg may not be spliced into shell program text, or undefined when it
 * may: only closed sets, numbers bounded on both sides, booleans and durations
 * render to text the shell cannot reinterpret.
 */
function unsafeInProgram(spec: ArgSpec): string | undefined {
  const type = elementType(spec.type);
  if (spec.type !== type) return 'is an array';
  if (type === 'boolean' || type === 'duration') return undefined;
  if (spec.validation.oneOf !== undefined) return undefined;
  if (type === 'integer' || type === 'number') {
    return spec.validation.min !== undefined && spec.validation.max !== undefined
      ? undefined
      : 'is a number without both min and max';
  }
  return 'is free text (pass it through execution.env as "$VAR" or as a positional argument after the program)';
}

/**
 * The shell-program rule: when the binary is a shell and argv has a short flag
 * cluster containing `c`, the next element is program text and may reference
 * only args that cannot change its meaning. Returns the reason it is broken.
 */
export function checkShellProgram(
  binary: string,
  argv: string[],
  args: ArgSpec[],
): string | undefined {
  if (!runsShellProgram(binary)) return undefined;
  const flag = argv.findIndex((element) => FLAG_CLUSTER_WITH_C.test(element));
  if (flag === -1 || flag + 1 >= argv.length) return undefined;
  const program = parseTemplate(argv[flag + 1]!);
  if ('error' in program) return undefined; // reported by template validation
  for (const part of program) {
    if (part.kind !== 'arg') continue;
    const spec = args.find((a) => a.name === part.name);
    const unsafe = spec === undefined ? undefined : unsafeInProgram(spec);
    if (unsafe !== undefined) {
      return `shell program text (argv[${flag + 1}]) embeds args.${part.name}, which ${unsafe}`;
    }
  }
  return undefined;
}
