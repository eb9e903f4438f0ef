import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { McpCaller } from './caller.js';
import { SERVER_INSTRUCTIONS } from './instructions.js';
import type { McpTools } from './tools.js';

/**
 * Serves one JSON-RPC message statelessly: a fresh SDK server and transport
 * per request (no session id, JSON responses, no SSE stream).
 */
export async function serveMcpRequest(
  tools: McpTools,
  caller: McpCaller,
  exchange: { req: IncomingMessage; res: ServerResponse; body: unknown; version: string },
): Promise<void> {
  const server = new Server(
    { name: 'emisar', version: exchange.version },
    { capabilities: { tools: { listChanged: false } }, instructions: SERVER_INSTRUCTIONS },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.list() }));
  server.setRequestHandler(CallToolRequestSchema, (request) =>
    tools.call(caller, request.params.name, request.params.arguments),
  );
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  exchange.res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  // The request checks already required JSON in Accept; the SDK also wants the
  // SSE type listed, which a JSON-only client need not send.
  exchange.req.headers.accept = 'application/json, text/event-stream';
  await transport.handleRequest(exchange.req, exchange.res, exchange.body);
}

/** The clients' self-reported names, by credential lineage, as `initialize` announced them. */
export function createClientRegistry(max = 10_000) {
  const clients = new Map<string, { name: string; version: string }>();
  return {
    remember(lineageId: string, body: unknown): void {
      const info = clientInfoOf(body);
      if (!info) return;
      clients.delete(lineageId);
      clients.set(lineageId, info);
      if (clients.size > max) clients.delete(clients.keys().next().value!);
    },
    get: (lineageId: string) => clients.get(lineageId) ?? null,
  };
}

export type ClientRegistry = ReturnType<typeof createClientRegistry>;

function clientInfoOf(body: unknown): { name: string; version: string } | null {
  if (typeof body !== 'object' || body === null) return null;
  const message = body as { method?: unknown; params?: { clientInfo?: unknown } };
  if (message.method !== 'initialize') return null;
  const info = message.params?.clientInfo as { name?: unknown; version?: unknown } | undefined;
  if (typeof info?.name !== 'string') return null;
  const version = typeof info.version === 'string' ? info.version : '';
  return { name: info.name.slice(0, 128), version: version.slice(0, 64) };
}
