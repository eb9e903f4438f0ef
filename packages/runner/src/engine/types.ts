import type { ActionResultFrame, JsonObject } from '@emisar/protocol';
import type { RunnerConfig } from '../config/config.js';
import type { Containment } from '../exec/cgroup.js';
import type { Stream } from '../exec/process.js';
import type { Setpriv } from '../exec/setpriv.js';
import type { Journal } from '../journal/journal.js';

export interface RunRequest {
  /** The control plane's request id (absent for a local `action run`). */
  requestId: string | undefined;
  actionId: string;
  args: JsonObject;
  /** SHA-256 of the exact args bytes as received (or of their canonical JSON locally). */
  argsSha256: string;
  reason: string;
  opts: { timeout?: number; max_stdout_bytes?: number; max_stderr_bytes?: number } | undefined;
}

export interface EngineDeps {
  config: RunnerConfig;
  journal: Journal;
  containment: Containment;
  setpriv: Setpriv | undefined;
  /** Data, config and token dirs: no path argument may land in them. */
  protectedPaths: string[];
  /** Bound on waiting for pipes an escaped process holds (default 2 s). */
  drainMs?: number;
}

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (stream: Stream, text: string) => void;
}

/** The result frame without request id and progress counters (the session fills those). */
export type EngineResult = Omit<
  ActionResultFrame,
  'type' | 'request_id' | 'progress_chunks' | 'dropped_progress_chunks'
>;

/** A step either hands its value on or ends the run with a result. */
export type Step<T> = { ok: true; value: T } | { ok: false; result: EngineResult };
