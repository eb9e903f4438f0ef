import type { FastifyError, FastifyInstance } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/availability.js';

/**
 * The errors a route may throw. Each has a stable `id` that clients can branch
 * on; the message is written for people and never carries secrets or internals.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class InvalidParamsError extends AppError {
  constructor(message = 'The request parameters are invalid.', id = 'invalid_params') {
    super(400, id, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication is required.', headers: Record<string, string> = {}) {
    super(401, 'unauthorized', message, headers);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this.', id = 'forbidden') {
    super(403, id, message);
  }
}

/** Also what another tenant's resource answers, so existence never leaks. */
export class NotFoundError extends AppError {
  constructor(message = 'Not found.') {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, id = 'conflict') {
    super(409, id, message);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', 'Too many requests; slow down.', {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    });
  }
}

export class UnavailableError extends AppError {
  constructor(message = 'The service is temporarily unavailable.') {
    super(503, 'unavailable', message);
  }
}

/** The database cannot be reached: the client should retry after a pause, nothing changed. */
export class DatabaseUnavailableError extends AppError {
  constructor(
    message = 'The database is unavailable right now; try again shortly.',
    /** What failed, for the log. */
    cause?: unknown,
  ) {
    super(503, 'database_unavailable', message, {
      'retry-after': String(DATABASE_RETRY_AFTER_SECONDS),
    });
    if (cause !== undefined) this.cause = cause;
  }
}

/** The route error `error` stands for: itself, a database connection error as 503, or none. */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  return isDatabaseUnavailable(error) ? new DatabaseUnavailableError() : undefined;
}

export interface ErrorBody {
  error: { id: string; message: string };
  request_id: string;
}

/** Fastify's own client errors, mapped to our ids with our wording. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; id: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    id: 'payload_too_large',
    message: 'The request body is too large.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    id: 'unsupported_media_type',
    message: 'Unsupported content type.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    id: 'invalid_request',
    message: 'Invalid content length.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    id: 'invalid_request',
    message: 'The JSON body is empty.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    id: 'invalid_json',
    message: 'The body is not valid JSON.',
  },
  FST_ERR_VALIDATION: {
    status: 400,
    id: 'invalid_params',
    message: 'The request parameters are invalid.',
  },
};

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = 500;
    let id = 'internal';
    let message = 'Something went wrong on our side.';
    const known = toAppError(error);
    if (known) {
      ({ status, id, message } = known);
      reply.headers(known.headers);
    } else if (error.code && FASTIFY_CLIENT_ERRORS[error.code]) {
      ({ status, id, message } = FASTIFY_CLIENT_ERRORS[error.code]!);
    } else if (error.statusCode === 429) {
      status = 429;
      id = 'rate_limited';
      message = 'Too many requests; slow down.';
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      id = 'invalid_request';
      message = 'The request is invalid.';
    }
    if (known instanceof DatabaseUnavailableError) {
      request.log.warn({ err: error }, 'request failed: database unavailable');
    } else if (status >= 500) request.log.error({ err: error }, 'request failed');
    const body: ErrorBody = { error: { id, message }, request_id: request.id };
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: { id: 'not_found', message: 'Not found.' },
      request_id: request.id,
    };
    return reply.status(404).send(body);
  });
}
