import type { ActionProgressFrame, ActionResultFrame } from '@emisar/protocol';
import { PIECE_BYTES } from '../exec/output.js';
import type { Stream } from '../exec/process.js';

export const PROGRESS_QUEUE_MAX = 2048;

interface ProgressMessage {
  seq: number;
  stream: Stream;
  data: string;
  bytes: number;
  sent: boolean;
}

/**
 * One dispatched run as the session sees it: its progress messages (kept until the
 * result is acknowledged, because a reconnect replays them all), the result once
 * known, and the cancel handle while it executes.
 */
export class RunRecord {
  readonly abort = new AbortController();
  private messages: ProgressMessage[] = [];
  private nextSeq = 1;
  private dropped = 0;
  result: ActionResultFrame | undefined;
  /** action_started was due (reserved and past the trust gate). */
  started = false;
  /** finalize_failed re-sends happen once per run. */
  resentAfterFinalizeFailed = false;

  constructor(
    readonly requestId: string,
    readonly digest: string,
    private readonly maxQueued = PROGRESS_QUEUE_MAX,
  ) {}

  /** Queues a redacted piece; merges into the last unsent same-stream message up to 64 KiB. */
  addProgress(stream: Stream, data: string): void {
    const bytes = Buffer.byteLength(data);
    const last = this.messages.at(-1);
    if (last && !last.sent && last.stream === stream && last.bytes + bytes <= PIECE_BYTES) {
      last.data += data;
      last.bytes += bytes;
      return;
    }
    this.messages.push({ seq: this.nextSeq++, stream, data, bytes, sent: false });
    if (this.messages.length > this.maxQueued) {
      this.messages.shift();
      this.dropped += 1;
    }
  }

  get progressChunks(): number {
    return this.nextSeq - 1;
  }

  get droppedChunks(): number {
    return this.dropped;
  }

  /** Messages not yet sent on the current socket, marked sent. */
  takeUnsent(): ActionProgressFrame[] {
    const out: ActionProgressFrame[] = [];
    for (const message of this.messages) {
      if (message.sent) continue;
      message.sent = true;
      out.push(this.frame(message));
    }
    return out;
  }

  /** Every held message (a new socket replays them all; the server dedups on seq). */
  replayAll(): ActionProgressFrame[] {
    for (const message of this.messages) message.sent = true;
    return this.messages.map((message) => this.frame(message));
  }

  private frame(message: ProgressMessage): ActionProgressFrame {
    return {
      type: 'action_progress',
      request_id: this.requestId,
      seq: message.seq,
      stream: message.stream,
      data: message.data,
    };
  }
}
