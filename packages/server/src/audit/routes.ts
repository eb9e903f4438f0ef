import type { KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { Clock } from '../core/clock.js';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';
import type { ApiKeyPrincipal } from '../core/principal.js';
import { requestContext } from '../http/request-context.js';
import type { CheckpointsDocument } from './checkpoint-message.js';
import { registerAuditConsoleRoutes } from './console-routes.js';
import type { AuditExportService } from './export.js';
import { createExportHeadSigner } from './export-head.js';
import {
  type AuditCursor,
  type AuditExportRequest,
  encodeCursor,
  parseAuditQuery,
  type RawAuditQuery,
} from './query.js';
import { AUDIT_KEY_PATH, publishedAuditKey } from './signing-key.js';

export interface AuditRouteDeps {
  exports: AuditExportService;
  /** The signed checkpoints of one account. */
  checkpoints(accountId: string): Promise<CheckpointsDocument>;
  /** Who an API key secret acts as, or null for any key that does not work. */
  authenticateApiKey(secret: string): Promise<ApiKeyPrincipal | null>;
  clock: Clock;
  baseUrl: string;
  signingKey: KeyObject;
}

const NDJSON = 'application/x-ndjson; charset=utf-8';
const REQUESTS_PER_MINUTE = 60;

/**
 * The SIEM export (`GET /api/audit`, each response ending in a signed head
 * statement) and its signed checkpoints, for `audit_export` API keys only, 60
 * requests a minute per key; the public key that verifies both; and the
 * console's audit page and CSV download.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const service = deps.exports;
  registerAuditConsoleRoutes(app, { service });
  registerAuditKeyRoute(app, deps.signingKey);
  const guard = auditExportGuard(deps);
  registerAuditExportRoute(app, deps, service, guard);
  registerAuditCheckpointRoutes(app, deps, guard);
}

/** Public: a verifier pins it on first use (`audit verify-export --public-key`). */
function registerAuditKeyRoute(app: FastifyInstance, signingKey: KeyObject): void {
  const published = publishedAuditKey(signingKey);
  app.get(AUDIT_KEY_PATH, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').send(published),
  );
}

/** What the export routes share: options that admit only audit_export keys, and the key admitted. */
interface AuditExportGuard {
  routeOptions: RouteShorthandOptions;
  keyOf(request: FastifyRequest): ApiKeyPrincipal;
}

function auditExportGuard(deps: AuditRouteDeps): AuditExportGuard {
  const keys = new WeakMap<FastifyRequest, ApiKeyPrincipal>();
  const authenticate = async (request: FastifyRequest) => {
    const key = await presentedKey(request, deps);
    if (!key) {
      throw new UnauthorizedError('The API key is invalid, expired or revoked.', true);
    }
    if (key.kind !== 'audit_export') {
      throw new ForbiddenError(
        'The audit export needs an audit_export (audit:read) key.',
        'wrong_key_kind',
      );
    }
    keys.set(request, key);
  };
  const keyOf = (request: FastifyRequest) => keys.get(request)!;
  const routeOptions = {
    // Authenticate first, so the limit counts per key rather than per address.
    preHandler: authenticate,
    config: {
      rateLimit: {
        max: REQUESTS_PER_MINUTE,
        timeWindow: 60_000,
        hook: 'preHandler' as const,
        keyGenerator: (request: FastifyRequest) => keyOf(request).keyId,
      },
    },
  };
  return { routeOptions, keyOf };
}

/** `GET /api/audit`: a page (with a next link when full) or, with limit=all, a stream. */
function registerAuditExportRoute(
  app: FastifyInstance,
  deps: AuditRouteDeps,
  service: AuditExportService,
  { routeOptions, keyOf }: AuditExportGuard,
): void {
  const signHead = createExportHeadSigner(deps);
  app.get('/api/audit', routeOptions, async (request, reply) => {
    const key = keyOf(request);
    const query = parseAuditQuery(request.query as RawAuditQuery);
    const note = (events: number) =>
      service
        .noteExport({
          accountId: key.accountId,
          keyId: key.keyId,
          request: query,
          events,
          context: requestContext(request, { authMethod: 'api_key:audit_export', mfa: false }),
        })
        .catch((error: unknown) => request.log.error({ err: error }, 'audit.exported not written'));
    reply.header('content-type', NDJSON).header('cache-control', 'no-store');

    if (query.limit === 'all') {
      const stream = await service.stream(key.accountId, query.after, query.filter);
      if (stream.next) reply.header('x-next-cursor', encodeCursor(stream.next));
      async function* body() {
        try {
          yield* stream.chunks;
          yield signHead(await stream.coverage());
        } finally {
          await note(stream.sent());
        }
      }
      return reply.send(Readable.from(body(), { objectMode: false }));
    }

    const page = await service.page(key.accountId, { ...query, limit: query.limit });
    await note(page.count);
    if (page.last) {
      reply.header('x-next-cursor', encodeCursor(page.last));
      if (page.full) {
        reply.header('link', `<${nextUrl(deps.baseUrl, query, page.last)}>; rel="next"`);
      }
    }
    return reply.send(page.text + signHead(await page.coverage()));
  });
}

/** `GET /api/audit/checkpoints`: the key's account's signed checkpoints. */
function registerAuditCheckpointRoutes(
  app: FastifyInstance,
  deps: AuditRouteDeps,
  { routeOptions, keyOf }: AuditExportGuard,
): void {
  app.get('/api/audit/checkpoints', routeOptions, async (request, reply) => {
    const document = await deps.checkpoints(keyOf(request).accountId);
    return reply.header('cache-control', 'no-store').send(document);
  });
}

/** The key another hook already resolved for this request, or the one its bearer names. */
async function presentedKey(
  request: FastifyRequest,
  deps: AuditRouteDeps,
): Promise<ApiKeyPrincipal | null> {
  const resolved = (request as { principal?: { kind: string; key?: ApiKeyPrincipal } | null })
    .principal;
  if (resolved?.kind === 'api_key' && resolved.key) return resolved.key;
  const match = /^Bearer ([!-~]{1,512})$/.exec(request.headers.authorization ?? '');
  return match ? deps.authenticateApiKey(match[1]!) : null;
}

function nextUrl(baseUrl: string, query: AuditExportRequest, next: AuditCursor): string {
  const params = new URLSearchParams({ cursor: encodeCursor(next), limit: String(query.limit) });
  if (query.filter.eventTypes) params.set('event_type', query.filter.eventTypes.join(','));
  return `${baseUrl}/api/audit?${params}`;
}
