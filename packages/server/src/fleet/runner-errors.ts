import type { EnrollmentErrorCode } from '@emisar/protocol';

/**
 * A refusal on the runner endpoints, answered in their flat shape
 * `{"error": "<code>", …extra}` (wire-protocol.md § Enrollment).
 */
export class RunnerEndpointError extends Error {
  constructor(
    readonly status: number,
    readonly code: EnrollmentErrorCode | 'invalid_request' | 'rate_limited' | 'internal',
    readonly extra: Record<string, string | number> = {},
  ) {
    super(code);
  }

  body(): Record<string, string | number> {
    return { error: this.code, ...this.extra };
  }
}
