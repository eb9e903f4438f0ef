import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalSha256Hex, type JsonObject } from '@emisar/protocol';
import { ToolError } from './envelope.js';

const CURSOR_TTL_MS = 15 * 60_000;

/**
 * Opaque page cursors: a signed position, bound to the caller (credential
 * lineage) and to the exact filters of the call, valid 15 minutes.
 */
export function createCursors(key: Buffer, now: () => Date) {
  const sign = (body: string) => createHmac('sha256', key).update(body).digest('base64url');

  function encode(binding: CursorBinding, position: JsonObject): string {
    const body = Buffer.from(
      JSON.stringify({ b: bindingOf(binding), t: now().getTime(), p: position }),
    ).toString('base64url');
    return `${body}.${sign(body)}`;
  }

  function decode(binding: CursorBinding, cursor: string): JsonObject {
    const [body, mac] = cursor.split('.');
    const expected = body ? Buffer.from(sign(body)) : undefined;
    if (!body || !mac || !expected || !safeEqual(expected, Buffer.from(mac))) throw invalid();
    let parsed: { b?: string; t?: number; p?: JsonObject };
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    const age = now().getTime() - (parsed.t ?? 0);
    if (parsed.b !== bindingOf(binding) || age < 0 || age > CURSOR_TTL_MS || !parsed.p) {
      throw invalid();
    }
    return parsed.p;
  }

  return { encode, decode };
}

export type Cursors = ReturnType<typeof createCursors>;

/** Who asks and with which filters: a cursor works only for the same again. */
export interface CursorBinding {
  caller: string;
  tool: string;
  filters: JsonObject;
}

/** Absent filters are dropped (JSON has no undefined). */
const bindingOf = (b: CursorBinding) =>
  canonicalSha256Hex(JSON.parse(JSON.stringify({ c: b.caller, t: b.tool, f: b.filters })));

const safeEqual = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

const invalid = () =>
  new ToolError(
    'invalid_cursor',
    'This cursor is not valid here: it expired, or it came from another caller or other filters. Repeat the call without it.',
  );
