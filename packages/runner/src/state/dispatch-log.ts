import { readFile } from 'node:fs/promises';
import type { ActionResultFrame } from '@emisar/protocol';
import { errorCode, writeFileAtomic } from '../fs-util.js';

export const DISPATCH_LOG_MAX_ENTRIES = 1024;

/** A result as stored: hashes and counts, never raw output. */
export type StoredResult = Omit<ActionResultFrame, 'type' | 'structured_output'>;

export interface DispatchEntry {
  request_id: string;
  dispatch_sha256: string;
  state: 'reserved' | 'completed' | 'acknowledged';
  result?: StoredResult;
}

export class DispatchLogError extends Error {
  override readonly name = 'DispatchLogError';
}

/**
 * The durable dispatch log: binds (request_id, digest) before anything executes so
 * a redelivered dispatch never runs twice, and keeps results until the control
 * plane acknowledges them. Every change replaces the file atomically.
 */
export class DispatchLog {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly entries: Map<string, DispatchEntry>,
    private readonly maxEntries: number,
  ) {}

  /**
   * Loads the log. Entries still `reserved` belonged to runs whose outcome died with
   * the previous process: they become `failed/execution_outcome_unknown` (durably)
   * and are returned so the caller can report them; they never run again.
   */
  static async open(
    path: string,
    maxEntries = DISPATCH_LOG_MAX_ENTRIES,
  ): Promise<{ log: DispatchLog; outcomeUnknown: DispatchEntry[] }> {
    const entries = await readDispatchLog(path);
    const log = new DispatchLog(path, entries, maxEntries);
    const outcomeUnknown: DispatchEntry[] = [];
    for (const entry of entries.values()) {
      if (entry.state !== 'reserved') continue;
      entry.state = 'completed';
      entry.result = outcomeUnknownResult(entry.request_id);
      outcomeUnknown.push(entry);
    }
    if (outcomeUnknown.length > 0) await log.persist();
    return { log, outcomeUnknown };
  }

  get(requestId: string): DispatchEntry | undefined {
    return this.entries.get(requestId);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Completed runs the control plane has not acknowledged, oldest first. */
  unacknowledged(): DispatchEntry[] {
    return [...this.entries.values()].filter((entry) => entry.state === 'completed');
  }

  /** Durably reserves; 'full' when every slot holds an unacknowledged entry. */
  reserve(requestId: string, digest: string): Promise<'reserved' | 'full'> {
    return this.change(() => {
      if (this.entries.size >= this.maxEntries && !this.evictOneAcknowledged()) return 'full';
      this.entries.set(requestId, {
        request_id: requestId,
        dispatch_sha256: digest,
        state: 'reserved',
      });
      return 'reserved';
    });
  }

  /** Records a terminal result for a request id (reserving it first if needed). */
  complete(requestId: string, digest: string, result: StoredResult): Promise<void> {
    return this.change(() => {
      const entry = this.entries.get(requestId);
      if (entry) {
        entry.state = 'completed';
        entry.result = result;
      } else {
        if (this.entries.size >= this.maxEntries) this.evictOneAcknowledged();
        this.entries.set(requestId, {
          request_id: requestId,
          dispatch_sha256: digest,
          state: 'completed',
          result,
        });
      }
    });
  }

  /** Records the control plane's durable receipt; false for an unknown id. */
  acknowledge(requestId: string): Promise<boolean> {
    return this.change(() => {
      const entry = this.entries.get(requestId);
      if (entry?.state !== 'completed') return false;
      entry.state = 'acknowledged';
      return true;
    });
  }

  private evictOneAcknowledged(): boolean {
    for (const [id, entry] of this.entries) {
      if (entry.state === 'acknowledged') {
        this.entries.delete(id);
        return true;
      }
    }
    return false;
  }

  private change<T>(mutate: () => T): Promise<T> {
    const run = this.queue.then(async () => {
      const outcome = mutate();
      await this.persist();
      return outcome;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async persist(): Promise<void> {
    const text = [...this.entries.values()].map((entry) => `${JSON.stringify(entry)}\n`).join('');
    await writeFileAtomic(this.path, text, 0o600);
  }
}

export function outcomeUnknownResult(requestId: string): StoredResult {
  return {
    ...emptyOutputCounts(),
    request_id: requestId,
    status: 'failed',
    reason: 'execution_outcome_unknown',
    exit_code: null,
    duration_ms: 0,
  };
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The counters of a result that produced no output (refusals and synthesised results). */
export function emptyOutputCounts() {
  return {
    stdout_sha256: EMPTY_SHA256,
    stdout_bytes: 0,
    stderr_sha256: EMPTY_SHA256,
    stderr_bytes: 0,
    stdout_truncated: false,
    stderr_truncated: false,
    progress_chunks: 0,
    dropped_progress_chunks: 0,
    redactions: [],
    executed_command: '',
    executed_command_truncated: false,
  };
}

export async function readDispatchLog(path: string): Promise<Map<string, DispatchEntry>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return new Map();
    throw error;
  }
  const entries = new Map<string, DispatchEntry>();
  const lines = text.split('\n');
  const corrupt = (line: number, why: string) =>
    new DispatchLogError(
      `dispatch log ${path} is corrupt at line ${line} (${why}); stop the runner and quarantine it with ` +
        `mv ${path} ${path}.corrupt — results it held will not be replayed and their runs may show as lost`,
    );
  if (lines.at(-1) !== '') throw corrupt(lines.length, 'no trailing newline');
  lines.pop();
  lines.forEach((line, index) => {
    let entry: DispatchEntry;
    try {
      entry = JSON.parse(line);
    } catch {
      throw corrupt(index + 1, 'not JSON');
    }
    if (
      typeof entry?.request_id !== 'string' ||
      typeof entry.dispatch_sha256 !== 'string' ||
      !['reserved', 'completed', 'acknowledged'].includes(entry.state) ||
      (entry.state !== 'reserved' && typeof entry.result !== 'object')
    ) {
      throw corrupt(index + 1, 'not a dispatch entry');
    }
    if (entries.has(entry.request_id)) throw corrupt(index + 1, 'duplicate request id');
    entries.set(entry.request_id, entry);
  });
  if (entries.size > DISPATCH_LOG_MAX_ENTRIES) throw corrupt(lines.length, 'too many entries');
  return entries;
}
