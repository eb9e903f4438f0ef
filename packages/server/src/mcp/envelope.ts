import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The tools a `next` continuation may name: reads only, never a mutation. */
export const READ_TOOLS = [
  'list_packs',
  'list_runners',
  'find_actions',
  'get_action',
  'get_operation',
  'wait_for_run',
  'recent_runs',
] as const;
export type ReadTool = (typeof READ_TOOLS)[number];

/** A ready-made continuation the model can call as is. */
export interface Next {
  tool: ReadTool;
  arguments: Record<string, unknown>;
}

export type ToolErrorCode =
  | 'invalid_args'
  | 'unknown_tool'
  | 'target_contract_changed'
  | 'operation_conflict'
  | 'dispatch_failed'
  | 'not_allowed'
  | 'run_not_found'
  | 'invalid_cursor'
  | 'wait_saturated';

const MESSAGE_MAX = 512;

/** A tool refusal: becomes the `{ok: false, error}` envelope, never a protocol error. */
export class ToolError extends Error {
  constructor(
    readonly code: ToolErrorCode,
    message: string,
    readonly options: {
      retryable?: boolean;
      details?: Record<string, unknown>;
      next?: Next;
      /** False once an operation exists (its runs carry the outcome). */
      beforeOperation?: boolean;
    } = {},
  ) {
    super(message.slice(0, MESSAGE_MAX));
  }
}

/** The same JSON twice: as `structuredContent` and as the one text block. */
function envelope(body: Record<string, unknown>, isError: boolean): CallToolResult {
  return {
    structuredContent: body,
    content: [{ type: 'text', text: JSON.stringify(body) }],
    ...(isError ? { isError: true } : {}),
  };
}

export const okResult = (body: Record<string, unknown>) => envelope({ ok: true, ...body }, false);

export function errorResult(error: ToolError): CallToolResult {
  const { retryable = false, details, next, beforeOperation = true } = error.options;
  return envelope(
    {
      ok: false,
      error: {
        code: error.code,
        message: error.message,
        retryable,
        ...(details ? { details } : {}),
        ...(next ? { next } : {}),
      },
      dispatch_started: false,
    },
    beforeOperation,
  );
}
