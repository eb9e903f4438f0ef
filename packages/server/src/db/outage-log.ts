import type { LogFn, Logger, LoggerOptions } from 'pino';
import { isDatabaseUnavailable } from './availability.js';

type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

export interface OutageLog {
  /** The pino `hooks.logMethod` that collapses an outage's log lines into its first. */
  logMethod: LogMethodHook;
  /** A database connection opened: ends an outage in progress, logged once. */
  connected(log: Pick<Logger, 'info'>): void;
}

/**
 * One line when the database becomes unreachable and one when it is back,
 * however many requests, sweeps and runner frames fail in between: a warning
 * or error whose `err` is a database connection error is written only if no
 * outage is in progress, and starts one.
 */
export function createOutageLog(now: () => number = Date.now): OutageLog {
  let since: number | undefined;
  let suppressed = 0;
  return {
    logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number) {
      const fields = args[0] as { err?: unknown } | undefined;
      if (level < 40 || typeof fields !== 'object' || !isDatabaseUnavailable(fields?.err)) {
        method.apply(this, args);
        return;
      }
      if (since !== undefined) {
        suppressed += 1;
        return;
      }
      since = now();
      suppressed = 0;
      const what = typeof args[1] === 'string' ? args[1] : 'a database call failed';
      method.apply(this, [
        fields,
        `database unavailable (${what}); answering 503 and not logging further database errors until it is back`,
      ]);
    },
    connected(log) {
      if (since === undefined) return;
      log.info(
        { outage_ms: now() - since, errors_not_logged: suppressed },
        'database reachable again',
      );
      since = undefined;
    },
  };
}
