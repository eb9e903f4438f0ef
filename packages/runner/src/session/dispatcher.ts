import { createHash } from 'node:crypto';
import {
  type ActionResultFrame,
  type ActionResultReason,
  FRAME_ERROR_MESSAGES,
  MAX_CONCURRENT_ACTIONS,
  type RunActionFrame,
  type RunnerFrame,
  type ServerFrame,
} from '@emisar/protocol';
import { type EngineDeps, type EngineResult, runAction } from '../engine/engine.js';
import type { Registry } from '../engine/registry.js';
import { errorMessage } from '../fs-util.js';
import type { Journal } from '../journal/journal.js';
import {
  type DispatchEntry,
  type DispatchLog,
  emptyOutputCounts,
  type StoredResult,
} from '../state/dispatch-log.js';
import { dispatchDigest, trustGate } from './dispatch-checks.js';
import { RunRecord } from './run-record.js';

/** The socket as the dispatcher sees it; frames sent while disconnected are simply lost (replay covers them). */
export interface Link {
  send(frame: RunnerFrame): void;
  connected(): boolean;
  /** True while the socket's send buffer is full: progress then queues (and merges). */
  busy(): boolean;
}

export interface DispatcherDeps {
  engine: EngineDeps;
  journal: Journal;
  dispatchLog: DispatchLog;
  registry: () => Registry;
  /** Re-send runner_state; reload=true re-reads packs first (drift seen at the trust gate). */
  advertise: (reload: boolean) => Promise<void>;
  log: (message: string) => void;
  maxConcurrent?: number;
}

const EARLY_CANCELS_MAX = 1024;

/** Fields every journal event about one dispatch carries. */
type JournalBase = Record<string, unknown>;

/**
 * The runner's side of the session: the dispatch pipeline (in the spec's order),
 * cancel, acknowledgements, and replay of progress and results across sockets.
 */
export class Dispatcher {
  private link: Link | undefined;
  private readonly runs = new Map<string, RunRecord>();
  private readonly executing = new Map<string, Promise<void>>();
  private readonly earlyCancels = new Set<string>();
  private flushScheduled = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** A new socket: action_started for runs still executing, then every unacknowledged run replayed. */
  attach(link: Link): void {
    this.link = link;
    for (const record of this.runs.values()) {
      if (record.started) link.send({ type: 'action_started', request_id: record.requestId });
      for (const frame of record.replayAll()) link.send(frame);
      if (record.result) link.send(record.result);
    }
    for (const entry of this.deps.dispatchLog.unacknowledged()) {
      if (!this.runs.has(entry.request_id) && entry.result) link.send(toFrame(entry.result));
    }
  }

  detach(link: Link): void {
    if (this.link === link) this.link = undefined;
  }

  get inFlight(): number {
    return this.executing.size;
  }

  handle(frame: ServerFrame, rawArgs: string | undefined): void {
    switch (frame.type) {
      case 'run_action':
        void this.dispatch(frame, rawArgs ?? '');
        break;
      case 'cancel':
        this.cancel(frame.request_id);
        break;
      case 'ack_result':
        void this.acknowledge(frame.request_id);
        break;
      case 'error':
        if (frame.code === 'finalize_failed' && frame.request_id) this.resendOnce(frame.request_id);
        break;
      default:
        break;
    }
  }

  /** A run_action the codec refused: answered, never executed. */
  refuseInvalid(requestId: string | undefined): void {
    if (requestId === undefined) {
      this.send({
        type: 'error',
        code: 'invalid_frame',
        message: FRAME_ERROR_MESSAGES.invalid_frame,
      });
      return;
    }
    this.send(synthesised(requestId, 'failed', 'dispatch_invalid'));
  }

  /** Cancels every executing run and resolves once each result is durably stored. */
  async shutdown(): Promise<void> {
    for (const record of this.runs.values()) if (!record.result) record.abort.abort();
    await Promise.all([...this.executing.values()]);
  }

  private async dispatch(frame: RunActionFrame, rawArgs: string): Promise<void> {
    const requestId = frame.request_id;
    const digest = dispatchDigest(frame, rawArgs);
    if (this.executing.has(requestId)) return;
    const known = this.deps.dispatchLog.get(requestId);
    if (known) return this.replay(requestId, digest, known);

    const journalBase = {
      group: this.deps.engine.config.runner.group ?? 'default',
      runner_id: this.deps.engine.config.runner.id,
      caller: { control_plane_request_id: requestId },
      action_id: frame.action_id,
      request: { args_sha256: sha256(rawArgs), reason: frame.reason },
    };
    const maxConcurrent = this.deps.maxConcurrent ?? MAX_CONCURRENT_ACTIONS;
    if (this.executing.size >= maxConcurrent) return this.refuseAtCap(requestId, journalBase);

    const record = new RunRecord(requestId, digest);
    let done!: () => void;
    this.executing.set(requestId, new Promise<void>((resolve) => (done = resolve)));
    this.runs.set(requestId, record);
    try {
      const registry = await this.clearToRun(frame, record, journalBase);
      if (registry) await this.execute(frame, rawArgs, record, registry);
    } finally {
      this.executing.delete(requestId);
      done();
    }
  }

  /** A dispatch seen before: the same one gets its stored outcome again, a different one a conflict. */
  private replay(requestId: string, digest: string, known: DispatchEntry): void {
    if (known.dispatch_sha256 !== digest) {
      this.send(synthesised(requestId, 'failed', 'dispatch_id_conflict'));
      return;
    }
    const record = this.runs.get(requestId);
    if (record?.result) {
      for (const progress of record.replayAll()) this.send(progress);
      this.send(record.result);
    } else if (known.result) this.send(toFrame(known.result));
  }

  private async refuseAtCap(requestId: string, journalBase: JournalBase): Promise<void> {
    this.send({
      type: 'error',
      code: 'concurrency_cap_reached',
      request_id: requestId,
      message: FRAME_ERROR_MESSAGES.concurrency_cap_reached,
    });
    await this.deps.journal
      .append({ event_type: 'dispatch_refused', ...journalBase, error: 'concurrency_cap_reached' })
      .catch(() => {});
  }

  /**
   * Reserves the dispatch in the log, honours a cancel that came first and
   * checks the pack at the trust gate; returns the registry to run with, or
   * undefined when the dispatch ended here.
   */
  private async clearToRun(
    frame: RunActionFrame,
    record: RunRecord,
    journalBase: JournalBase,
  ): Promise<Registry | undefined> {
    const requestId = frame.request_id;
    let reserved: 'reserved' | 'full';
    try {
      reserved = await this.deps.dispatchLog.reserve(requestId, record.digest);
    } catch (error) {
      this.deps.log(`dispatch log write failed: ${errorMessage(error)}`);
      reserved = 'full';
    }
    if (reserved === 'full') {
      this.runs.delete(requestId);
      await this.deps.journal
        .append({
          event_type: 'dispatch_refused',
          ...journalBase,
          error: 'dispatch_reservation_failed',
        })
        .catch(() => {});
      this.send(synthesised(requestId, 'failed', 'dispatch_reservation_failed'));
      return undefined;
    }
    if (this.earlyCancels.delete(requestId)) {
      await this.finalize(record, synthesised(requestId, 'cancelled', 'cancelled_before_start'));
      return undefined;
    }
    const registry = this.deps.registry();
    const gate = await trustGate(registry, frame);
    if (!gate) return registry;
    const event = await this.deps.journal
      .append({ event_type: 'dispatch_refused', ...journalBase, error: gate })
      .catch(() => undefined);
    await this.finalize(record, {
      ...synthesised(requestId, 'pack_hash_mismatch'),
      ...(event ? { event_id: event.eventId } : { local_audit_failed: true }),
    });
    await this.deps
      .advertise(true)
      .catch((error) => this.deps.log(`re-advertise failed: ${errorMessage(error)}`));
    return undefined;
  }

  /** Runs the action, streaming progress, and finalizes its result (an engine crash is an error result). */
  private async execute(
    frame: RunActionFrame,
    rawArgs: string,
    record: RunRecord,
    registry: Registry,
  ): Promise<void> {
    const requestId = frame.request_id;
    record.started = true;
    this.send({ type: 'action_started', request_id: requestId });
    let result: EngineResult;
    try {
      result = await runAction(
        this.deps.engine,
        registry,
        {
          requestId,
          actionId: frame.action_id,
          args: frame.args,
          argsSha256: sha256(rawArgs),
          reason: frame.reason,
          opts: frame.opts,
        },
        {
          signal: record.abort.signal,
          onProgress: (stream, text) => {
            record.addProgress(stream, text);
            this.scheduleFlush();
          },
        },
      );
    } catch (error) {
      this.deps.log(`engine error: ${errorMessage(error)}`);
      result = {
        ...emptyOutputCounts(),
        status: 'error',
        reason: 'engine_error',
        exit_code: null,
        duration_ms: 0,
      };
    }
    await this.finalize(record, {
      ...result,
      type: 'action_result',
      request_id: requestId,
      progress_chunks: record.progressChunks,
      dropped_progress_chunks: record.droppedChunks,
    });
  }

  /** Stores the result durably, then sends the remaining progress and the result. */
  private async finalize(record: RunRecord, result: ActionResultFrame): Promise<void> {
    const { type: _type, structured_output: _structured, ...stored } = result;
    try {
      await this.deps.dispatchLog.complete(record.requestId, record.digest, stored);
    } catch (error) {
      this.deps.log(`dispatch log write failed, result kept in memory: ${errorMessage(error)}`);
    }
    record.result = result;
    for (const frame of record.takeUnsent()) this.send(frame);
    this.send(result);
  }

  private cancel(requestId: string): void {
    const record = this.runs.get(requestId);
    if (record) {
      if (!record.result) record.abort.abort();
      return;
    }
    if (this.deps.dispatchLog.get(requestId)) return;
    if (this.earlyCancels.size >= EARLY_CANCELS_MAX) {
      this.earlyCancels.delete(this.earlyCancels.values().next().value!);
    }
    this.earlyCancels.add(requestId);
  }

  private async acknowledge(requestId: string): Promise<void> {
    const record = this.runs.get(requestId);
    if (record && !record.result) return;
    try {
      await this.deps.dispatchLog.acknowledge(requestId);
    } catch (error) {
      this.deps.log(`dispatch log write failed: ${errorMessage(error)}`);
      return;
    }
    this.runs.delete(requestId);
  }

  private resendOnce(requestId: string): void {
    const record = this.runs.get(requestId);
    if (record?.result) {
      if (record.resentAfterFinalizeFailed) return;
      record.resentAfterFinalizeFailed = true;
      this.send(record.result);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const link = this.link;
    if (!link?.connected()) return;
    if (link.busy()) {
      // The socket is behind: let same-stream pieces merge, look again shortly.
      this.flushScheduled = true;
      setTimeout(() => this.flush(), 5);
      return;
    }
    for (const record of this.runs.values()) {
      if (record.result) continue;
      for (const frame of record.takeUnsent()) link.send(frame);
    }
  }

  private send(frame: RunnerFrame): void {
    const link = this.link;
    if (link?.connected()) link.send(frame);
  }
}

function synthesised(
  requestId: string,
  status: ActionResultFrame['status'],
  reason?: ActionResultReason,
): ActionResultFrame {
  return {
    ...emptyOutputCounts(),
    type: 'action_result',
    request_id: requestId,
    status,
    ...(reason ? { reason } : {}),
    exit_code: null,
    duration_ms: 0,
  };
}

function toFrame(stored: StoredResult): ActionResultFrame {
  return { ...stored, type: 'action_result' };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
