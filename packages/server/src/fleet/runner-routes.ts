import { FRAME_MAX_BYTES } from '@emisar/protocol';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { hitDurableLimit } from '../auth/rate-limits.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { DatabaseUnavailableError, headersOf, STATUS_OF, toDomainError } from '../http/errors.js';
import { InvalidInputError } from '../http/input-hygiene.js';
import type { RateLimitConfig } from '../http/rate-limit-config.js';
import { requestContext } from '../http/request-context.js';
import type { EnrollmentService } from './enrollment.js';
import type { RunnerGateway } from './gateway.js';
import { RunnerEndpointError } from './runner-errors.js';
import { type AuthenticatedRunner, authenticateRunnerToken, bearerOf } from './tokens.js';

export interface RunnerRouteDeps {
  db: Kysely<Database>;
  clock: Clock;
  enrollment: EnrollmentService;
  gateway: RunnerGateway;
  limits: Pick<RateLimitConfig, 'runnerRegisterPerMinute' | 'runnerRefreshPerMinute'>;
}

declare module 'fastify' {
  interface FastifyRequest {
    runnerAuth?: AuthenticatedRunner;
  }
}

function sendFlat(reply: FastifyReply, error: RunnerEndpointError) {
  return reply.status(STATUS_OF[error.kind]).send(error.body());
}

/**
 * Spends one request of the endpoint's budget for the client address and for
 * the presented bearer (enrollment key or runner token, counted by digest),
 * before the bearer is even checked.
 */
async function spendEndpointBudget(
  deps: RunnerRouteDeps,
  endpoint: 'runner_register' | 'runner_refresh',
  max: number,
  request: FastifyRequest,
): Promise<void> {
  if (max === 0) return;
  const limit = (per: string) => ({ name: `${endpoint}_${per}`, max, windowMs: 60_000 });
  await hitDurableLimit(deps.db, limit('ip'), request.ip, deps.clock);
  const bearer = bearerOf(request.headers.authorization);
  if (bearer) await hitDurableLimit(deps.db, limit('key'), bearer, deps.clock);
}

/**
 * The runner's own endpoints (wire-protocol.md): enrollment and token refresh
 * answering errors in the flat `{"error": code}` shape, and the WebSocket.
 */
export async function registerRunnerRoutes(
  app: FastifyInstance,
  deps: RunnerRouteDeps,
): Promise<void> {
  await app.register(websocket, {
    options: { maxPayload: FRAME_MAX_BYTES, perMessageDeflate: false },
    preClose: (done) => {
      deps.gateway.stop().finally(() => done());
    },
  });
  await app.register(async (scope) => {
    scope.setErrorHandler((error, request, reply) => {
      if (error instanceof RunnerEndpointError) return sendFlat(reply, error);
      if (error instanceof InvalidInputError) {
        const badId = error.part === 'body field' && error.field === 'external_id';
        return sendFlat(
          reply,
          new RunnerEndpointError('invalid', badId ? 'invalid_external_id' : 'invalid_request'),
        );
      }
      // rate_limited (with Retry-After), database_unavailable…: the same id, in the flat shape.
      const known = toDomainError(error);
      if (known) {
        if (known instanceof DatabaseUnavailableError) {
          request.log.warn({ err: error }, 'runner endpoint failed: database unavailable');
        }
        return reply
          .status(STATUS_OF[known.kind])
          .headers(headersOf(known))
          .send({ error: known.id });
      }
      const status = (error as { statusCode?: number }).statusCode;
      if (status && status >= 400 && status < 500) {
        return reply.status(status).send({ error: 'invalid_request' });
      }
      request.log.error({ err: error }, 'runner endpoint failed');
      return reply.status(500).send({ error: 'internal' });
    });

    scope.post('/runner/register', async (request, reply) => {
      await spendEndpointBudget(
        deps,
        'runner_register',
        deps.limits.runnerRegisterPerMinute,
        request,
      );
      const issued = await deps.enrollment.register(
        bearerOf(request.headers.authorization),
        request.body,
        requestContext(request),
      );
      return reply.status(201).send(issued);
    });

    scope.post('/runner/token/refresh', async (request) => {
      await spendEndpointBudget(
        deps,
        'runner_refresh',
        deps.limits.runnerRefreshPerMinute,
        request,
      );
      return deps.enrollment.refresh(bearerOf(request.headers.authorization));
    });

    scope.get(
      '/runner/socket',
      {
        websocket: true,
        // Refusals are plain HTTP answers to the upgrade request: the socket never opens.
        preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
          const check = await authenticateRunnerToken(
            deps.db,
            bearerOf(request.headers.authorization),
            deps.clock.now(),
          );
          if (check.status !== 'ok') {
            return sendFlat(reply, new RunnerEndpointError('unauthorized', check.status));
          }
          if (check.runner.accountDisabled) {
            return sendFlat(reply, new RunnerEndpointError('forbidden', 'account_disabled'));
          }
          if (check.runner.runnerDisabled) {
            return sendFlat(reply, new RunnerEndpointError('forbidden', 'runner_disabled'));
          }
          request.runnerAuth = check.runner;
        },
      },
      (socket, request) => deps.gateway.accept(socket, request.runnerAuth!),
    );
  });
}
