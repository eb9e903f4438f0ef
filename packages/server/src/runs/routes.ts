import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TooLargeError } from '../core/errors.js';
import { encodeKeysetCursor, keysetCursorSchema } from '../core/keyset-cursor.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { registerAccountRoute } from '../http/account-routes.js';
import { registerEventStreamRoute } from './event-routes.js';
import { durationMs } from './request.js';
import type { RunService } from './service.js';
import { IN_PROGRESS_STATUSES, TERMINAL_STATUSES } from './tables.js';
import { runView } from './view.js';

export interface RunRoutesDeps {
  runs: RunService;
  /** Between SSE comment lines that keep proxies from closing an idle stream. */
  sseHeartbeatMs?: number;
}

const CREATE_PATH = '/api/v1/accounts/:slug/runs';
const WAIT_MAX_MS = 60_000;

const listSchema = z.object({
  status: z.enum([...IN_PROGRESS_STATUSES, ...TERMINAL_STATUSES]).optional(),
  runner_id: z.string().regex(UUID_PATTERN).optional(),
  /** A runner by its id, ref or name. */
  runner: z.string().min(1).max(300).optional(),
  action_id: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: keysetCursorSchema.optional(),
});

const outputSchema = z.object({
  after_seq: z.coerce.number().int().min(0).max(2_147_483_647).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

const waitSchema = z.object({ wait: z.string().max(32).optional() });

const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

/** The run routes of the REST table, and the account's live event stream. */
export function registerRunRoutes(app: FastifyInstance, deps: RunRoutesDeps): void {
  registerRunCreation(app, deps.runs);
  registerRunReads(app, deps.runs);
  registerAccountRoute(app, {
    method: 'POST',
    path: '/runs/:id/cancel',
    permission: 'runs.cancel',
    handler: async (request, access, context) =>
      runView(await deps.runs.cancel(access, context, idOf(request))),
  });
  registerEventStreamRoute(app, { runs: deps.runs, heartbeatMs: deps.sseHeartbeatMs ?? 15_000 });
}

/**
 * `POST …/runs` reads its body from the exact request bytes (Fastify's JSON
 * parser would round numbers beyond 2^53 and accept duplicate keys), so the
 * raw body is kept for that one route and parsed strictly by the service.
 */
function registerRunCreation(app: FastifyInstance, runs: Pick<RunService, 'create'>): void {
  const rawBodies = new WeakMap<FastifyRequest, Buffer>();
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.method !== 'POST' || request.routeOptions.url !== CREATE_PATH) return payload;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      size += (chunk as Buffer).length;
      // Read no further than the body limit: the bytes are held in memory.
      if (size > app.initialConfig.bodyLimit!) {
        throw new TooLargeError();
      }
      chunks.push(Buffer.from(chunk as Buffer));
    }
    const raw = Buffer.concat(chunks);
    rawBodies.set(request, raw);
    return Readable.from([raw]);
  });

  registerAccountRoute(app, {
    method: 'POST',
    path: '/runs',
    permission: 'runs.dispatch',
    status: 201,
    budget: 'runs',
    handler: async (request, access, context) => {
      const key = request.headers['idempotency-key'];
      const { run } = await runs.create({
        access,
        context,
        rawBody: rawBodies.get(request),
        idempotencyKey: Array.isArray(key) ? key.join(',') : key,
      });
      return runView(run);
    },
  });
}

/** Listing runs (keyset-paged, newest first), one run (optionally waiting), its output. */
function registerRunReads(
  app: FastifyInstance,
  runs: Pick<RunService, 'list' | 'get' | 'output'>,
): void {
  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs',
    permission: 'fleet.view',
    handler: async (request, access) => {
      const query = parseInput(listSchema, request.query);
      const page = await runs.list(access, {
        status: query.status,
        runnerId: query.runner_id,
        runner: query.runner,
        actionId: query.action_id,
        before: query.cursor,
        limit: query.limit,
      });
      return {
        runs: page.runs.map(runView),
        next_cursor: page.next ? encodeKeysetCursor(page.next) : null,
      };
    },
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs/:id',
    permission: 'fleet.view',
    handler: async (request, access, _context, reply) => {
      const { wait } = parseInput(waitSchema, request.query);
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return runView(await runs.get(access, idOf(request), waitMs(wait), gone.signal));
    },
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs/:id/output',
    permission: 'fleet.view',
    handler: async (request, access) => {
      const query = parseInput(outputSchema, request.query);
      return runs.output(access, idOf(request), query.after_seq, query.limit);
    },
  });
}

function waitMs(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  return Math.min(durationMs(text, 'wait'), WAIT_MAX_MS);
}
