import type { CallToolResult, Tool as SdkTool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/index.js';
import type { McpCaller } from './caller.js';
import {
  type CatalogToolDeps,
  findActionsTool,
  getActionTool,
  listPacksTool,
  listRunnersTool,
} from './catalog-tools.js';
import { errorResult, okResult, ToolError } from './envelope.js';
import { parseToolArgs } from './inputs.js';
import { runActionTool } from './run-action.js';
import { getOperationTool, type RunReadDeps, recentRunsTool, waitForRunTool } from './run-reads.js';
import type { Tool } from './tool.js';

export type McpToolDeps = CatalogToolDeps & RunReadDeps;

/** The eight tools, in the order `tools/list` shows them. */
export function createMcpTools(deps: McpToolDeps) {
  const tools: Tool[] = [
    listPacksTool(deps),
    listRunnersTool(deps),
    findActionsTool(deps),
    getActionTool(deps),
    runActionTool(deps),
    getOperationTool(deps),
    waitForRunTool(deps),
    recentRunsTool(deps),
  ];
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const listed: SdkTool[] = tools.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: z.toJSONSchema(tool.input, { io: 'input' }) as SdkTool['inputSchema'],
    annotations: { title: tool.title, ...tool.annotations },
  }));

  /** A tool call as its envelope: refusals are results, only bugs are thrown. */
  async function call(caller: McpCaller, name: string, args: unknown): Promise<CallToolResult> {
    try {
      const tool = byName.get(name);
      if (!tool) throw unknownTool(name);
      return okResult(await tool.call(caller, parseToolArgs(tool.input, args)));
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      if (error.code === 'invalid_args') await auditInvalidArgs(caller, name, error);
      return errorResult(error);
    }
  }

  /** `mcp.invalid_args`: which tool, and the paths and codes only, never the values. */
  function auditInvalidArgs(caller: McpCaller, name: string, error: ToolError) {
    const details = error.options.details ?? {};
    return deps.db.transaction().execute((trx) =>
      recordAuditEvent(trx, {
        accountId: caller.access.account.id,
        eventType: 'mcp.invalid_args',
        actor: caller.access.actor,
        target: { kind: 'tool', id: name, label: name },
        payload: JSON.parse(JSON.stringify({ stage: details.stage, issues: details.issues })),
        context: caller.context,
      }),
    );
  }

  return { list: () => listed, call };
}

export type McpTools = ReturnType<typeof createMcpTools>;

const unknownTool = (name: string) =>
  new ToolError(
    'unknown_tool',
    'There is no such tool. Actions are not tools: find the action with find_actions, read it with get_action, then call run_action.',
    { next: { tool: 'find_actions', arguments: { query: name.slice(0, 256) || 'list' } } },
  );
