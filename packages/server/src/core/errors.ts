/**
 * What went wrong, in the words of the domain that refused. `http/errors.ts`
 * maps each kind to a status; the CLI reads the kind too.
 */
export type ErrorKind =
  /** The input is malformed or out of bounds. */
  | 'invalid'
  /** The caller is unknown or has not proved who they are. */
  | 'unauthorized'
  /** The plan does not allow it. */
  | 'payment_required'
  /** Known, but not allowed to do this. */
  | 'forbidden'
  /** Absent, or another tenant's: existence never leaks. */
  | 'not_found'
  /** The current state does not allow it. */
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable';

/**
 * An error a service throws for its caller. `id` is stable (clients branch
 * on it); the message is written for people and never carries secrets or
 * internals.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly id: string,
    message: string,
    /** Seconds until a retry may succeed (`rate_limited`). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export class InvalidParamsError extends DomainError {
  constructor(message = 'The request parameters are invalid.', id = 'invalid_params') {
    super('invalid', id, message);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(
    message = 'Authentication is required.',
    /** A bearer credential was presented or expected (answered with a Bearer challenge). */
    readonly bearer = false,
  ) {
    super('unauthorized', 'unauthorized', message);
  }
}

export class PaymentRequiredError extends DomainError {
  constructor(message: string, id: string) {
    super('payment_required', id, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do this.', id = 'forbidden') {
    super('forbidden', id, message);
  }
}

/** Also what another tenant's resource answers, so existence never leaks. */
export class NotFoundError extends DomainError {
  constructor(message = 'Not found.', id = 'not_found') {
    super('not_found', id, message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, id = 'conflict') {
    super('conflict', id, message);
  }
}

export class TooLargeError extends DomainError {
  constructor(message = 'The request body is too large.', id = 'payload_too_large') {
    super('too_large', id, message);
  }
}

export class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(
      'rate_limited',
      'rate_limited',
      'Too many requests; slow down.',
      Math.max(1, Math.ceil(retryAfterSeconds)),
    );
  }
}

export class UnavailableError extends DomainError {
  constructor(message = 'The service is temporarily unavailable.') {
    super('unavailable', 'unavailable', message);
  }
}
