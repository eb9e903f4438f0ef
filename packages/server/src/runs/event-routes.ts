import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { registerAccountRoute } from '../http/account-routes.js';
import { durationMs } from './request.js';
import type { RunService } from './service.js';

const streamSchema = z.object({ timeout: z.string().max(32).optional() });

/** `GET …/events`: the account's live event stream (SSE), until the client leaves or `timeout`. */
export function registerEventStreamRoute(
  app: FastifyInstance,
  deps: {
    runs: Pick<RunService, 'streamEvents'>;
    /** Between SSE comment lines that keep proxies from closing an idle stream. */
    heartbeatMs: number;
  },
): void {
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
      await deps.runs.streamEvents(access, res, {
        log: request.log,
        heartbeatMs: deps.heartbeatMs,
      });
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
