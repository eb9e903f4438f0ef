import { z } from 'zod';
import { ToolError } from './envelope.js';

/** Where an invalid argument was found. */
export type InvalidStage = 'tool_call' | 'arguments' | 'action_arguments';

export interface InvalidIssue {
  path: string;
  code: string;
}

const ISSUES_MAX = 8;
const CURSOR_MAX = 4096;

/** `"0"`, `1s`–`60s` or `1ms`–`60000ms`: anything else is refused, never clamped. */
export const WAIT_PATTERN =
  /^(?:0|(?:[1-9]|[1-5][0-9]|60)s|(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|60000)ms)$/;

export function waitMs(text: string): number {
  if (text === '0') return 0;
  return text.endsWith('ms') ? Number(text.slice(0, -2)) : Number(text.slice(0, -1)) * 1000;
}

export const text256 = z.string().min(1).max(256);
export const runnerRefs = z
  .array(z.string().min(1).max(300))
  .min(1)
  .max(16)
  .refine((refs) => new Set(refs).size === refs.length, { message: 'not unique' });
export const cursor = z.string().min(1).max(CURSOR_MAX);
export const packRef = z.string().min(1).max(255);
export const actionId = z.string().min(1).max(128);
export const duration = z.string().regex(WAIT_PATTERN);

/** At most one of these keys may be present. */
export function exclusive<T extends Record<string, unknown>>(...pairs: [keyof T, keyof T][]) {
  return (value: T, ctx: z.RefinementCtx) => {
    for (const [a, b] of pairs) {
      if (value[a] !== undefined && value[b] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [b as string], message: 'exclusive' });
      }
    }
  };
}

/**
 * The tool's arguments checked against its schema; a failure is `invalid_args`
 * with the paths and codes of at most eight issues, never the values.
 */
export function parseToolArgs<S extends z.ZodType>(
  schema: S,
  value: unknown,
  stage: InvalidStage = 'arguments',
): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, ISSUES_MAX).map((issue) => ({
    path: pathOf(issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path),
    code: kindOf(issue, value),
  }));
  throw invalidArgs(stage, issues);
}

export function invalidArgs(stage: InvalidStage, issues: InvalidIssue[]): ToolError {
  const list = issues.slice(0, ISSUES_MAX);
  const summary = list.map((i) => `${i.path} (${i.code})`).join(', ');
  return new ToolError('invalid_args', `Invalid arguments: ${summary}.`, {
    details: { stage, kind: list[0]?.code ?? 'invalid', issues: list },
  });
}

export function pathOf(path: readonly PropertyKey[]): string {
  return `$${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
}

function kindOf(issue: z.core.$ZodIssue, root: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return valueAt(root, issue.path) === undefined ? 'missing' : 'type';
    case 'unrecognized_keys':
      return 'unknown';
    case 'too_big':
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array' ? 'size' : 'range';
    case 'invalid_format':
      return 'format';
    case 'invalid_value':
      return 'enum';
    case 'custom':
      return issue.message === 'exclusive' ? 'exclusive' : 'format';
    default:
      return 'invalid';
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
