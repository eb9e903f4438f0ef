import {
  CLOSE_PROTOCOL_ERROR,
  decodeFrame,
  encodeFrame,
  FRAME_MAX_BYTES,
  type RunnerFrame,
  type RunnerStateFrame,
  type ShutdownReason,
  TERMINAL_SHUTDOWN_REASONS,
} from '@emisar/protocol';
import WebSocket from 'ws';
import { cloudUrl } from '../cloud/enrollment.js';
import { errorMessage } from '../fs-util.js';
import type { Dispatcher, Link } from './dispatcher.js';

/** Why the session loop ended for good. */
export type SessionEnd =
  | { kind: 'stopped' }
  | { kind: 'unauthorized' }
  | { kind: 'terminal_shutdown'; reason: ShutdownReason };

export interface SessionOptions {
  url: string;
  token: () => string;
  state: () => RunnerStateFrame;
  dispatcher: Dispatcher;
  heartbeatMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: (message: string) => void;
  /** Called before each connect attempt (token refresh). */
  beforeConnect?: () => Promise<void>;
}

const SEND_BUFFER_BUSY_BYTES = 1024 * 1024;

/** Exponential backoff with jitter: the n-th delay lies in [d/2, d], d = min(max, min·2ⁿ). */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * The runner's one outbound WebSocket, kept up with bounded exponential backoff
 * (reset after a session that connected). Each connect sends runner_state, then
 * the dispatcher replays what the control plane has not acknowledged.
 */
export class CloudSession {
  private socket: WebSocket | undefined;
  private link: Link | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private end: SessionEnd | undefined;

  constructor(private readonly options: SessionOptions) {}

  async run(): Promise<SessionEnd> {
    let attempt = 0;
    while (!this.stopped && !this.end) {
      let connected = false;
      try {
        await this.options.beforeConnect?.();
        connected = await this.connectOnce();
      } catch (error) {
        this.options.log(`connection failed: ${errorMessage(error)}`);
      }
      if (this.stopped || this.end) break;
      attempt = connected ? 0 : attempt + 1;
      const delay = backoffDelay(attempt, this.options.reconnectMinMs, this.options.reconnectMaxMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.end ?? { kind: 'stopped' };
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000, 'runner stopping');
    this.wake?.();
  }

  /** Re-sends runner_state on the live socket (after a reload or drift). */
  advertise(): void {
    this.link?.send(this.options.state());
  }

  /** Resolves when the socket closes; true when it had opened. */
  private connectOnce(): Promise<boolean> {
    const { dispatcher, log } = this.options;
    return new Promise((resolve) => {
      const socket = new WebSocket(cloudUrl(this.options.url, 'runner/socket', true), {
        headers: { authorization: `Bearer ${this.options.token()}` },
        maxPayload: FRAME_MAX_BYTES,
        handshakeTimeout: 30_000,
      });
      this.socket = socket;
      let opened = false;
      const link = socketLink(socket, log);
      const heartbeat = new Heartbeat(socket, link, this.options.heartbeatMs, log);

      socket.on('unexpected-response', (_request, response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        if (status === 401) {
          this.end = { kind: 'unauthorized' };
          log('control plane refused the runner token (401)');
        } else log(`control plane refused the connection (${status}); retrying`);
        socket.terminate();
      });
      socket.on('open', () => {
        opened = true;
        this.link = link;
        log('connected');
        link.send(this.options.state());
        dispatcher.attach(link);
        heartbeat.start();
      });
      socket.on('pong', () => heartbeat.answered());
      socket.on('message', (data, isBinary) => {
        heartbeat.answered();
        this.receive(socket, link, data, isBinary);
      });
      socket.on('error', (error) => {
        if (!opened) log(`connect error: ${errorMessage(error)}`);
      });
      socket.on('close', () => {
        heartbeat.stop();
        dispatcher.detach(link);
        if (this.socket === socket) this.socket = undefined;
        if (this.link === link) this.link = undefined;
        if (opened) log('disconnected');
        resolve(opened);
      });
    });
  }

  /** One message from the control plane: decoded, then handed on, answered or refused. */
  private receive(socket: WebSocket, link: Link, data: WebSocket.RawData, isBinary: boolean): void {
    const { dispatcher } = this.options;
    if (isBinary) {
      link.send({ type: 'error', code: 'invalid_frame', message: 'frame rejected' });
      return;
    }
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const decoded = decodeFrame(new Uint8Array(raw), { maxBytes: FRAME_MAX_BYTES });
    switch (decoded.kind) {
      case 'ignored':
        return;
      case 'protocol_version':
        socket.close(CLOSE_PROTOCOL_ERROR, 'protocol_version');
        return;
      case 'invalid':
        if (decoded.type === 'run_action') dispatcher.refuseInvalid(decoded.requestId);
        else if (decoded.type === undefined || decoded.type !== 'error') {
          link.send({ type: 'error', code: 'invalid_frame', message: 'frame rejected' });
        }
        return;
      case 'frame': {
        const frame = decoded.frame;
        if (frame.type === 'shutdown') {
          this.options.log(`control plane shutdown: ${frame.reason}`);
          if ((TERMINAL_SHUTDOWN_REASONS as readonly string[]).includes(frame.reason)) {
            this.end = { kind: 'terminal_shutdown', reason: frame.reason };
            socket.close(1000, 'shutdown');
          }
          return;
        }
        if (
          frame.type === 'run_action' ||
          frame.type === 'cancel' ||
          frame.type === 'ack_result' ||
          frame.type === 'error'
        ) {
          dispatcher.handle(frame, decoded.rawArgs);
        }
        return;
      }
    }
  }
}

/** The dispatcher's view of one socket: frames it cannot encode are logged, not thrown. */
function socketLink(socket: WebSocket, log: (message: string) => void): Link {
  return {
    send: (frame: RunnerFrame) => {
      if (socket.readyState !== WebSocket.OPEN) return;
      try {
        socket.send(encodeFrame(frame));
      } catch (error) {
        // A frame our own schema refuses (e.g. runner_state over 2 MiB) is a bug to report, not a crash.
        log(`not sending ${frame.type}: ${errorMessage(error)}`);
      }
    },
    connected: () => socket.readyState === WebSocket.OPEN,
    busy: () => socket.bufferedAmount > SEND_BUFFER_BUSY_BYTES,
  };
}

/**
 * Ping and heartbeat frame every interval; two intervals without any answer (a
 * pong or a message) end the socket so the session reconnects.
 */
class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private awaitingPong = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly link: Link,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.awaitingPong >= 2) {
        this.log('no answer from the control plane; reconnecting');
        this.socket.terminate();
        return;
      }
      this.awaitingPong += 1;
      this.socket.ping();
      this.link.send({ type: 'heartbeat' });
    }, this.intervalMs);
  }

  answered(): void {
    this.awaitingPong = 0;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
