import { approverTextProblem } from '@emisar/protocol';
import { z } from 'zod';
import { InvalidParamsError } from './errors.js';

/** Parses input with zod; the first problem becomes an `invalid` error that never echoes values. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new InvalidParamsError(`${field}${issue?.message ?? 'invalid value'}`);
}

/** A runner group name: lowercase letters, digits, `.`, `_` and `-`. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Free text another person reads (an approval note): bounded, no bidi control. */
export const approverText = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((text, ctx) => {
      const problem = approverTextProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
