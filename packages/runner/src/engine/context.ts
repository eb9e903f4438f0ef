import type { JournalEvent } from '../journal/journal.js';
import { emptyOutputCounts } from '../state/dispatch-log.js';
import type { EngineDeps, EngineResult, RunRequest } from './types.js';

/** What every step of one run shares: its dependencies, request and journal identity. */
export interface RunContext {
  readonly deps: EngineDeps;
  readonly request: RunRequest;
  /** Fields every journal event of the run carries. */
  readonly base: Record<string, unknown>;
  /** Journals a refusal before execution and returns its result. */
  refuse(
    eventType: JournalEvent['event_type'],
    status: EngineResult['status'],
    error: string,
    extra?: Record<string, unknown>,
  ): Promise<EngineResult>;
}

export function runContext(deps: EngineDeps, request: RunRequest): RunContext {
  const { config, journal } = deps;
  const base = {
    group: config.runner.group ?? 'default',
    runner_id: config.runner.id,
    caller: { control_plane_request_id: request.requestId ?? null },
    action_id: request.actionId,
  };
  // Refusals before execution store the args' hash and the reason, never the arguments.
  const refusalRequest = { args_sha256: request.argsSha256, reason: request.reason };
  return {
    deps,
    request,
    base,
    async refuse(eventType, status, error, extra = {}) {
      const event_id = await journal
        .append({ event_type: eventType, ...base, ...extra, request: refusalRequest, error })
        .then((r) => r.eventId)
        .catch(() => undefined);
      return {
        ...emptyOutputCounts(),
        status,
        exit_code: null,
        duration_ms: 0,
        ...(event_id ? { event_id } : { local_audit_failed: true }),
      };
    },
  };
}
