import type { EnrollmentErrorCode } from '@emisar/protocol';
import { DomainError, type ErrorKind } from '../core/errors.js';

/**
 * A refusal on the runner endpoints, answered in their flat shape
 * `{"error": "<code>", …extra}` (wire-protocol.md § Enrollment).
 */
export class RunnerEndpointError extends DomainError {
  constructor(
    kind: ErrorKind,
    readonly code: EnrollmentErrorCode | 'invalid_request',
    readonly extra: Record<string, string | number> = {},
  ) {
    super(kind, code, code);
  }

  body(): Record<string, string | number> {
    return { error: this.code, ...this.extra };
  }
}
