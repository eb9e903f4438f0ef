import { FRAME_MAX_BYTES } from '@emisar/protocol';
import websocket from '@fastify/websocket';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError, headersOf, STATUS_OF, toDomainError } from '../http/errors.js';
import { InvalidInputError } from '../http/input-hygiene.js';
import type { RateLimitConfig } from '../http/rate-limit-config.js';
import { requestContext } from '../http/request-context.js';
import type { EnrollmentService } from './enrollment.js';
import type { RunnerGateway } from './gateway.js';
import type { RunnerEndpointBudget } from './runner-budget.js';
import { RunnerEndpointError } from './runner-errors.js';
import { type AuthenticatedRunner, bearerOf } from './tokens.js';

export interface RunnerRouteDeps {
  enrollment: EnrollmentService;
  budget: RunnerEndpointBudget;
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

/** Every error of the runner endpoints in the flat `{"error": code}` shape. */
function sendRunnerEndpointError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) {
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
    return reply.status(STATUS_OF[known.kind]).headers(headersOf(known)).send({ error: known.id });
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) {
    return reply.status(status).send({ error: 'invalid_request' });
  }
  request.log.error({ err: error }, 'runner endpoint failed');
  return reply.status(500).send({ error: 'internal' });
}

/** `POST /runner/register` and `POST /runner/token/refresh`, each within its budget. */
function registerEnrollmentRoutes(scope: FastifyInstance, deps: RunnerRouteDeps): void {
  const { enrollment, budget, limits } = deps;
  scope.post('/runner/register', async (request, reply) => {
    const bearer = bearerOf(request.headers.authorization);
    await budget.spend('runner_register', limits.runnerRegisterPerMinute, request.ip, bearer);
    const issued = await enrollment.register(bearer, request.body, requestContext(request));
    return reply.status(201).send(issued);
  });

  scope.post('/runner/token/refresh', async (request) => {
    const bearer = bearerOf(request.headers.authorization);
    await budget.spend('runner_refresh', limits.runnerRefreshPerMinute, request.ip, bearer);
    return enrollment.refresh(bearer);
  });
}

/** `GET /runner/socket`: the runner's WebSocket, served by the gateway. */
function registerSocketRoute(scope: FastifyInstance, deps: RunnerRouteDeps): void {
  scope.get(
    '/runner/socket',
    {
      websocket: true,
      // Refusals are plain HTTP answers to the upgrade request: the socket never opens.
      preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
        const check = await deps.enrollment.authenticate(bearerOf(request.headers.authorization));
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
    scope.setErrorHandler(sendRunnerEndpointError);
    registerEnrollmentRoutes(scope, deps);
    registerSocketRoute(scope, deps);
  });
}
