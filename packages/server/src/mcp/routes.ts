import { isJsonObject, type JsonValue, parseStrictJson, StrictJsonError } from '@emisar/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountAccess } from '../core/access.js';
import { DomainError } from '../core/errors.js';
import type { ApiKeyPrincipal, KeyPrincipal } from '../core/principal.js';
import { contextOf } from '../http/auth.js';
import type { ClientRegistry } from './endpoint.js';
import { serveMcpRequest } from './endpoint.js';
import type { McpTools } from './tools.js';

export interface McpRouteDeps {
  tools: McpTools;
  clients: ClientRegistry;
  baseUrl: string;
  version: string;
  /** Who an API key secret acts as, or null for any key that does not work. */
  authenticateApiKey(secret: string): Promise<ApiKeyPrincipal | null>;
  /** The key's member's access to the key's workspace. */
  resolveAccess(principal: KeyPrincipal): Promise<AccountAccess>;
  /** Counts one request against the bearer's budget; throws `rate_limited` past it. */
  hitBudget(keyId: string): Promise<void>;
}

export const MCP_PATHS = ['/api/mcp/rpc', '/mcp'] as const;
const BODY_MAX_BYTES = 128 * 1024;

/** A refusal before any tool runs, as a JSON-RPC error on an HTTP status. */
class McpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The MCP endpoint: request checks (Origin, Content-Type, Accept, size,
 * strict JSON) before authentication, then the bearer (an `mcp` API key),
 * the per-bearer budget, and the SDK.
 */
export function registerMcpRoutes(app: FastifyInstance, deps: McpRouteDeps): void {
  const origin = new URL(deps.baseUrl).origin;
  const challenge = `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource", scope="mcp"`;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BODY_MAX_BYTES },
      (_r, body, done) => done(null, body),
    );
    scope.setErrorHandler((error, _request, reply) => {
      if (error instanceof McpRefusal) return sendRefusal(reply, error);
      const tooLarge = (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      if (tooLarge) {
        return sendRefusal(
          reply,
          new McpRefusal(413, -32600, `The request body exceeds ${BODY_MAX_BYTES / 1024} KiB.`),
        );
      }
      throw error;
    });
    scope.addHook('onRequest', async (request) => checkRequest(request, origin));
    for (const url of MCP_PATHS) {
      scope.post(url, async (request, reply) => {
        const { body, exact } = parseBody(request.body);
        const caller = await authenticate(deps, request, challenge);
        caller.exactArguments = exactArgumentsOf(exact);
        deps.clients.remember(caller.lineageId, body);
        caller.clientInfo = deps.clients.get(caller.lineageId);
        reply.hijack();
        await serveMcpRequest(deps.tools, caller, {
          req: request.raw,
          res: reply.raw,
          body,
          version: deps.version,
        });
      });
      scope.route({
        method: ['GET', 'DELETE'],
        url,
        handler: async (_request, reply) =>
          reply.code(405).header('allow', 'POST').send(rpcError(-32600, 'Use POST.')),
      });
    }
  });
}

/** Origin, Content-Type and Accept, before the body is read. */
function checkRequest(request: FastifyRequest, origin: string): void {
  if (request.method !== 'POST') return;
  const sent = request.headers.origin;
  if (sent !== undefined && sent !== origin) {
    throw new McpRefusal(403, -32600, 'Cross-origin requests are refused.');
  }
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new McpRefusal(415, -32600, 'Content-Type must be application/json.');
  }
  const accept = request.headers.accept;
  if (accept !== undefined && !/(?:application\/json|application\/\*|\*\/\*)/i.test(accept)) {
    throw new McpRefusal(406, -32600, 'Accept must include application/json.');
  }
}

/**
 * Strict JSON: duplicate keys at any depth are a parse error. Returns plain
 * JSON for the SDK, and the exact reading (numbers kept as written).
 */
function parseBody(raw: unknown): { body: unknown; exact: JsonValue } {
  if (!Buffer.isBuffer(raw) || raw.length === 0)
    throw new McpRefusal(400, -32700, 'Parse error: empty body.');
  let exact: JsonValue;
  try {
    exact = parseStrictJson(raw, { maxBytes: BODY_MAX_BYTES });
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    throw new McpRefusal(400, -32700, `Parse error: ${error.code}.`);
  }
  return { body: JSON.parse(raw.toString('utf8')), exact };
}

function exactArgumentsOf(message: JsonValue): JsonValue | undefined {
  if (!isJsonObject(message) || message.method !== 'tools/call') return undefined;
  return isJsonObject(message.params) ? message.params.arguments : undefined;
}

async function authenticate(deps: McpRouteDeps, request: FastifyRequest, challenge: string) {
  const unauthorized = () =>
    new McpRefusal(401, -32001, 'Authentication required: a valid mcp API key as a Bearer token.', {
      'www-authenticate': challenge,
    });
  const match = /^Bearer (emk-[!-~]{1,508})$/.exec(request.headers.authorization ?? '');
  const key = match ? await deps.authenticateApiKey(match[1]!) : null;
  if (!key) throw unauthorized();
  if (key.kind !== 'mcp') {
    throw new McpRefusal(403, -32002, 'This key cannot use MCP: it only reads the audit export.');
  }
  const principal: KeyPrincipal = { kind: 'api_key', key };
  request.principal = principal;
  let access: AccountAccess;
  try {
    access = await deps.resolveAccess(principal);
    await deps.hitBudget(key.keyId);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    if (error.kind === 'rate_limited') {
      throw new McpRefusal(429, -32000, 'Too many requests for this key; slow down.', {
        'retry-after': String(Math.ceil(error.retryAfterSeconds ?? 60)),
      });
    }
    if (error.kind === 'forbidden') throw new McpRefusal(403, -32002, error.message);
    throw unauthorized();
  }
  return {
    access,
    context: contextOf(request),
    keyId: key.keyId,
    lineageId: key.lineageId,
    clientInfo: null as { name: string; version: string } | null,
    operationIdHeader: headerOf(request, 'emisar-operation-id'),
    exactArguments: undefined as JsonValue | undefined,
  };
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

const rpcError = (code: number, message: string) => ({
  jsonrpc: '2.0',
  id: null,
  error: { code, message },
});

function sendRefusal(reply: FastifyReply, refusal: McpRefusal) {
  return reply
    .code(refusal.status)
    .headers(refusal.headers)
    .type('application/json')
    .send(rpcError(refusal.code, refusal.message));
}
