import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { parseDuration } from '@emisar/packs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import { InvalidParamsError, TooLargeError } from '../core/errors.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { Database } from '../db/schema.js';
import { registerAccountRoute } from '../http/account-routes.js';
import { streamAccountEvents } from './event-stream.js';
import type { RunService } from './service.js';
import { IN_PROGRESS_STATUSES, TERMINAL_STATUSES } from './tables.js';
import { runView } from './view.js';

export interface RunRoutesDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  runs: RunService;
  /** Between SSE comment lines that keep proxies from closing an idle stream. */
  sseHeartbeatMs?: number;
}

const CREATE_PATH = '/api/v1/accounts/:slug/runs';
const WAIT_MAX_MS = 60_000;
const rawBodies = new WeakMap<FastifyRequest, Buffer>();

const cursorSchema = z
  .string()
  .max(200)
  .transform((text, ctx) => {
    try {
      const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
      if (typeof at === 'string' && typeof id === 'string' && UUID_PATTERN.test(id)) {
        return { at, id };
      }
    } catch {}
    ctx.addIssue({ code: 'custom', message: 'is not a cursor from a previous page' });
    return z.NEVER;
  });

const listSchema = z.object({
  status: z.enum([...IN_PROGRESS_STATUSES, ...TERMINAL_STATUSES]).optional(),
  runner_id: z.string().regex(UUID_PATTERN).optional(),
  action_id: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorSchema.optional(),
});

const outputSchema = z.object({
  after_seq: z.coerce.number().int().min(0).max(2_147_483_647).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

const waitSchema = z.object({ wait: z.string().max(32).optional() });
const streamSchema = z.object({ timeout: z.string().max(32).optional() });

/**
 * The run routes of the REST table, and the account's live event stream.
 * `POST …/runs` reads its body from the exact request bytes (Fastify's JSON
 * parser would round numbers beyond 2^53 and accept duplicate keys), so the
 * raw body is kept for that one route and parsed strictly by the service.
 */
export function registerRunRoutes(app: FastifyInstance, deps: RunRoutesDeps): void {
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
      const { run } = await deps.runs.create({
        access,
        context,
        rawBody: rawBodies.get(request),
        idempotencyKey: Array.isArray(key) ? key.join(',') : key,
      });
      return runView(run);
    },
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs',
    permission: 'fleet.view',
    handler: async (request, access) => {
      const query = parseInput(listSchema, request.query);
      const page = await deps.runs.list(access, {
        status: query.status,
        runnerId: query.runner_id,
        actionId: query.action_id,
        before: query.cursor,
        limit: query.limit,
      });
      return {
        runs: page.runs.map(runView),
        next_cursor: page.next
          ? Buffer.from(JSON.stringify([page.next.at, page.next.id])).toString('base64url')
          : null,
      };
    },
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs/:id',
    permission: 'fleet.view',
    handler: async (request, access, _context, reply) => {
      const { id } = request.params as { id: string };
      const { wait } = parseInput(waitSchema, request.query);
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return runView(await deps.runs.get(access, id, waitMs(wait), gone.signal));
    },
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/runs/:id/output',
    permission: 'fleet.view',
    handler: async (request, access) => {
      const { id } = request.params as { id: string };
      const query = parseInput(outputSchema, request.query);
      return deps.runs.output(access, id, query.after_seq, query.limit);
    },
  });

  registerAccountRoute(app, {
    method: 'POST',
    path: '/runs/:id/cancel',
    permission: 'runs.cancel',
    handler: async (request, access, context) => {
      const { id } = request.params as { id: string };
      return runView(await deps.runs.cancel(access, context, id));
    },
  });

  // Open event streams never finish on their own: end them so the server can close.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.destroy();
  });

  registerAccountRoute(app, {
    method: 'GET',
    path: '/events',
    permission: 'fleet.view',
    handler: async (request, access, _context, reply) => {
      const { timeout } = parseInput(streamSchema, request.query);
      const endAfterMs = timeout === undefined ? undefined : durationMs(timeout, 'timeout');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
        'x-content-type-options': 'nosniff',
        connection: 'close',
      });
      res.write(': connected\n\n');
      await streamAccountEvents(
        {
          db: deps.db,
          clock: deps.clock,
          bus: deps.bus,
          log: request.log,
          heartbeatMs: deps.sseHeartbeatMs ?? 15_000,
        },
        access,
        res,
      );
      streams.add(res);
      const ending = endAfterMs === undefined ? undefined : setTimeout(() => res.end(), endAfterMs);
      res.on('close', () => {
        streams.delete(res);
        clearTimeout(ending);
        res.socket?.destroy();
      });
      return undefined;
    },
  });
}

function waitMs(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  return Math.min(durationMs(text, 'wait'), WAIT_MAX_MS);
}

function durationMs(text: string, name: string): number {
  const ns = parseDuration(text);
  if (ns === undefined || ns < 0n || ns > 86_400_000_000_000n) {
    throw new InvalidParamsError(`${name} must be a duration such as 10s.`);
  }
  return Number(ns / 1_000_000n);
}
