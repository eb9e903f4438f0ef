import { randomBytes } from 'node:crypto';
import { type FastifyServerOptions, LogController } from 'fastify';
import type { LoggerOptions } from 'pino';

/** Logged URLs never carry a query string: tokens and codes must not reach logs. */
export function pathOnly(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      censor: '[REDACTED]',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: pathOnly(req.url),
        remoteAddress: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

const QUIET_PATHS = new Set(['/healthz', '/readyz']);

/** Our own ids only: an inbound X-Request-Id would let a caller write into the audit trail. */
export const requestIdOptions: Pick<FastifyServerOptions, 'genReqId' | 'logController'> = {
  logController: new LogController({
    requestIdLogLabel: 'request_id',
    // Probes hit these every few seconds; their failures are still logged.
    disableRequestLogging: (request) => QUIET_PATHS.has(pathOnly(request.url)),
  }),
  genReqId: () => `hreq_${randomBytes(12).toString('base64url')}`,
};
