import type { JsonObject } from '@emisar/protocol';
import type { McpCaller } from './caller.js';
import type { Cursors } from './cursor.js';

/**
 * One page of an ordered list, from an offset carried in a signed cursor
 * bound to the caller's lineage, the tool and its filters.
 */
export function pageOf<T>(
  cursors: Cursors,
  caller: McpCaller,
  request: { tool: string; filters: JsonObject; cursor?: string | undefined; limit: number },
  items: T[],
): { page: T[]; nextCursor: string | null } {
  const binding = { caller: caller.lineageId, tool: request.tool, filters: request.filters };
  const start = request.cursor ? Number(cursors.decode(binding, request.cursor).offset ?? 0) : 0;
  const page = items.slice(start, start + request.limit);
  const end = start + page.length;
  return {
    page,
    nextCursor: end < items.length ? cursors.encode(binding, { offset: end }) : null,
  };
}

/** The call's filters without its paging fields, as the cursor binds them. */
export function filtersOf(args: Record<string, unknown>): JsonObject {
  const { cursor: _cursor, limit: _limit, ...filters } = args;
  return JSON.parse(JSON.stringify(filters)) as JsonObject;
}
