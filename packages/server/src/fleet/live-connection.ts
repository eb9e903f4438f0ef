import {
  CLOSE_DATABASE_UNAVAILABLE_REASON,
  CLOSE_SUPERSEDED,
  CLOSE_SUPERSEDED_REASON,
  CLOSE_TRY_AGAIN_LATER,
  encodeFrame,
  FRAME_ERROR_MESSAGES,
  type ServerFrame,
  type ShutdownReason,
} from '@emisar/protocol';
import type { WebSocket } from 'ws';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { RunHooks, RunnerConnection } from './run-hooks.js';
import type { TimingConfig } from './timing.js';
import type { AuthenticatedRunner } from './tokens.js';

/** Close code for a socket silent longer than HEARTBEAT_TIMEOUT. */
export const CLOSE_HEARTBEAT_TIMEOUT = 4001;
/** Pause reading a socket whose frames queue up beyond this; resume below the low mark. */
export const QUEUE_HIGH = 64;
const QUEUE_LOW = 8;

export interface GatewayLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** What every connection of one gateway shares. */
export interface ConnectionContext {
  log: GatewayLog;
  runHooks: RunHooks;
  timing: Pick<TimingConfig, 'heartbeatTimeoutMs'>;
}

/** One accepted socket and the runner connection the runs domain sees. */
export class LiveConnection implements RunnerConnection {
  readonly runnerId: string;
  readonly accountId: string;
  generation = 0;
  superseded = false;
  closed = false;
  /** The database failed under this connection: it is closing, the runner replays elsewhere. */
  dropped = false;
  stateIngested = false;
  closeReason = 'runner_closed';
  private queue: (() => Promise<void>)[] = [];
  private draining = false;
  private deliveryQueued = false;
  private silence: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly runner: AuthenticatedRunner,
    private readonly context: ConnectionContext,
  ) {
    this.runnerId = runner.runnerId;
    this.accountId = runner.accountId;
  }

  send(frame: ServerFrame): boolean {
    if (this.closed || this.superseded || this.socket.readyState !== this.socket.OPEN) return false;
    let text: string;
    try {
      text = encodeFrame(frame);
    } catch (error) {
      this.context.log.error(
        { err: error, frame: frame.type },
        'refusing to send an invalid frame',
      );
      return false;
    }
    this.socket.send(text);
    return true;
  }

  /** Answers a frame the server cannot take. */
  refuseFrame(): void {
    this.send({
      type: 'error',
      code: 'invalid_frame',
      message: FRAME_ERROR_MESSAGES.invalid_frame,
    });
  }

  /** Frames and deliveries run one at a time, in arrival order. */
  enqueue(task: () => Promise<void>): void {
    this.queue.push(task);
    if (this.queue.length > QUEUE_HIGH) this.socket.pause();
    if (!this.draining) void this.drain();
  }

  requestDelivery(): void {
    if (this.deliveryQueued || !this.stateIngested) return;
    this.deliveryQueued = true;
    this.enqueue(async () => {
      this.deliveryQueued = false;
      if (this.current()) await this.context.runHooks.deliverPending(this);
    });
  }

  current(): boolean {
    return !this.closed && !this.superseded && !this.dropped;
  }

  /** A newer connection holds the runner: close with 4000. */
  supersede(): void {
    if (this.superseded || this.closed) return;
    this.superseded = true;
    this.closeReason = CLOSE_SUPERSEDED_REASON;
    this.socket.close(CLOSE_SUPERSEDED, CLOSE_SUPERSEDED_REASON);
  }

  shutdown(reason: ShutdownReason, code = 1000): void {
    this.send({ type: 'shutdown', reason });
    this.closeReason = reason;
    this.socket.close(code, reason);
  }

  /**
   * Closes the socket without handling anything more from it: what the runner
   * sent since cannot be stored, and the runner replays all it holds unacknowledged
   * on its next connection (the server dedups on request id and seq).
   */
  dropForOutage(error: unknown): void {
    if (!this.current()) return;
    this.dropped = true;
    this.closeReason = CLOSE_DATABASE_UNAVAILABLE_REASON;
    this.context.log.warn(
      { err: error, runner_id: this.runnerId },
      'database unavailable; closing the runner socket so the runner replays what it sent',
    );
    this.socket.close(CLOSE_TRY_AGAIN_LATER, CLOSE_DATABASE_UNAVAILABLE_REASON);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      const task = this.queue.shift()!;
      try {
        await task();
      } catch (error) {
        if (isDatabaseUnavailable(error)) this.dropForOutage(error);
        else
          this.context.log.error({ err: error, runner_id: this.runnerId }, 'runner frame failed');
      }
      if (this.queue.length < QUEUE_LOW && this.socket.isPaused) this.socket.resume();
    }
    this.draining = false;
  }

  armSilenceTimer(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      this.closeReason = 'heartbeat_timeout';
      this.socket.close(CLOSE_HEARTBEAT_TIMEOUT, 'heartbeat_timeout');
      // A half-open peer never answers the close handshake.
      setTimeout(() => this.socket.terminate(), 1000).unref();
    }, this.context.timing.heartbeatTimeoutMs);
    this.silence.unref();
  }

  stopTimers(): void {
    clearTimeout(this.silence);
  }
}
