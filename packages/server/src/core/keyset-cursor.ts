import { z } from 'zod';
import { UUID_PATTERN } from './parse-input.js';

/** A position in a newest-first list ordered by (timestamp, id). */
export interface KeysetPosition {
  at: string;
  id: string;
}

/** Opaque to clients: base64url of `[at, id]`. */
export function encodeKeysetCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** Reads a cursor from a previous page; anything else is a 400, never a database error. */
export const keysetCursorSchema = z
  .string()
  .max(200)
  .transform((text, ctx): KeysetPosition => {
    try {
      const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
      if (
        typeof at === 'string' &&
        !Number.isNaN(Date.parse(at)) &&
        typeof id === 'string' &&
        UUID_PATTERN.test(id)
      ) {
        return { at, id };
      }
    } catch {}
    ctx.addIssue({ code: 'custom', message: 'is not a cursor from a previous page' });
    return z.NEVER;
  });
