import { BUILTIN_REDACTION_RULES, compileRedactionRules, redactText } from '@emisar/packs';
import type { ErrorFrame } from '@emisar/protocol';

export interface RunnerErrorLog {
  warn(fields: object, message: string): void;
}

/** Distinct codes kept per runner; a runner inventing codes cannot grow the map without end. */
const CODES_PER_RUNNER_MAX = 32;
const OTHER_CODES = 'other';
const REDACTION = compileRedactionRules(BUILTIN_REDACTION_RULES);

/**
 * What runners report in `error` frames: each is logged at warn (runner,
 * code, request id and message, with secrets redacted) and counted per runner
 * and code on this node since it started.
 */
export class RunnerErrorTally {
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(private readonly log: RunnerErrorLog) {}

  record(runner: { runnerId: string; accountId: string }, frame: ErrorFrame): void {
    let codes = this.counts.get(runner.runnerId);
    if (!codes) {
      codes = new Map();
      this.counts.set(runner.runnerId, codes);
    }
    const code =
      codes.has(frame.code) || codes.size < CODES_PER_RUNNER_MAX ? frame.code : OTHER_CODES;
    codes.set(code, (codes.get(code) ?? 0) + 1);
    this.log.warn(
      {
        runner_id: runner.runnerId,
        account_id: runner.accountId,
        code: frame.code,
        request_id: frame.request_id ?? null,
        message: redactText(frame.message, REDACTION).text,
      },
      'runner reported an error',
    );
  }

  /** Error frames from this runner by code. */
  countsOf(runnerId: string): Record<string, number> {
    return Object.fromEntries(this.counts.get(runnerId) ?? []);
  }
}
