import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, type ErrorKind, UnauthorizedError } from '../core/errors.js';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/availability.js';

/** The one place an error kind becomes an HTTP status. */
export const STATUS_OF: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

/** Headers an error answers with besides its status. */
export function headersOf(error: DomainError): Record<string, string> {
  if (error.retryAfterSeconds !== undefined) {
    return { 'retry-after': String(error.retryAfterSeconds) };
  }
  if (error instanceof UnauthorizedError && error.bearer) return { 'www-authenticate': 'Bearer' };
  return {};
}

/** The database cannot be reached: the client should retry after a pause, nothing changed. */
export class DatabaseUnavailableError extends DomainError {
  constructor(
    message = 'The database is unavailable right now; try again shortly.',
    /** What failed, for the log. */
    cause?: unknown,
  ) {
    super('unavailable', 'database_unavailable', message, DATABASE_RETRY_AFTER_SECONDS);
    if (cause !== undefined) this.cause = cause;
  }
}

/** The route error `error` stands for: itself, a database connection error as 503, or none. */
export function toDomainError(error: unknown): DomainError | undefined {
  if (error instanceof DomainError) return error;
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
    const known = toDomainError(error);
    if (known) {
      status = STATUS_OF[known.kind];
      ({ id, message } = known);
      reply.headers(headersOf(known));
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
