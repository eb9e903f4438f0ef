import { isIP } from 'node:net';
import { codePointLabel, ExactNumber, forbiddenCodePoint, type TextShape } from '@emisar/protocol';
import type { FastifyInstance } from 'fastify';
import { InvalidParamsError } from '../core/errors.js';

export type RequestPart = 'path parameter' | 'query parameter' | 'body field' | 'header';

/** A request part carrying a code point no text field accepts; names where, never the value. */
export class InvalidInputError extends InvalidParamsError {
  constructor(
    readonly part: RequestPart,
    readonly field: string,
    problem: string,
  ) {
    super(`The ${field ? `${part} ${field}` : part.split(' ')[0]} ${problem}.`, 'invalid_input');
  }
}

const FIELD_NAME_MAX = 64;

/**
 * Refuses the first string (or object key) in a parsed request part that holds
 * a forbidden code point (see forbiddenCodePoint). Keys and the strings of
 * `line` parts are names: no control characters; string values of `multiline`
 * parts are free text and may keep tabs and line breaks.
 */
export function refuseForbiddenText(
  value: unknown,
  part: RequestPart,
  valueShape: TextShape,
): void {
  // Iterative: a deeply nested body must not exhaust the stack.
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      const codePoint = forbiddenCodePoint(item, valueShape);
      if (codePoint !== undefined) throw forbidden(part, path, codePoint);
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) pending.push([item[i], `${path}[${i}]`]);
    } else if (
      typeof item === 'object' &&
      item !== null &&
      !(item instanceof ExactNumber) &&
      !ArrayBuffer.isView(item)
    ) {
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const codePoint = forbiddenCodePoint(key, 'line');
        if (codePoint !== undefined) {
          throw new InvalidInputError(
            part,
            path,
            `has a key with the forbidden character ${codePointLabel(codePoint)}`,
          );
        }
        const name = key.slice(0, FIELD_NAME_MAX);
        pending.push([child, path ? `${path}.${name}` : name]);
      }
    }
  }
}

function forbidden(part: RequestPart, field: string, codePoint: number): InvalidInputError {
  return new InvalidInputError(
    part,
    field,
    `contains the forbidden character ${codePointLabel(codePoint)}`,
  );
}

/**
 * The one check every route gets, before any handler or database sees the
 * request: path and query parameters are names, body strings free text.
 * A client address that is not an IP address (a trusted proxy's
 * X-Forwarded-For carrying something else) is refused too: it is stored with
 * sessions and audit events.
 */
export function installInputHygiene(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (request.ip !== undefined && isIP(request.ip) === 0) {
      throw new InvalidInputError('header', 'x-forwarded-for', 'does not name an IP address');
    }
  });
  app.addHook('preValidation', async (request) => {
    refuseForbiddenText(request.params, 'path parameter', 'line');
    refuseForbiddenText(request.query, 'query parameter', 'line');
    refuseForbiddenText(request.body, 'body field', 'multiline');
  });
}
