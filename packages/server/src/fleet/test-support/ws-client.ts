import { PROTOCOL_VERSION } from '@emisar/protocol';
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

/** A bare runner-side socket for gateway tests: records frames and how it closed. */
export class TestRunnerSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  /** Opens the socket, or resolves with the HTTP status and body of a refused upgrade. */
  static async open(
    url: string,
    token: string | null,
  ): Promise<TestRunnerSocket | { status: number; body: unknown }> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/runner/socket`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return new Promise((resolve, reject) => {
      ws.on('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : null });
          ws.terminate();
        });
      });
      ws.on('open', () => resolve(new TestRunnerSocket(ws)));
      ws.on('error', (error) => {
        if (!error.message.includes('Unexpected server response')) reject(error);
      });
    });
  }

  static async connect(url: string, token: string): Promise<TestRunnerSocket> {
    const opened = await TestRunnerSocket.open(url, token);
    if (!(opened instanceof TestRunnerSocket)) {
      throw new Error(`socket refused: ${opened.status} ${JSON.stringify(opened.body)}`);
    }
    return opened;
  }

  send(frame: Frame | string): void {
    this.ws.send(
      typeof frame === 'string'
        ? frame
        : JSON.stringify({ protocol_version: PROTOCOL_VERSION, ...frame }),
    );
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async until<T>(check: () => T | undefined | false): Promise<T> {
    for (;;) {
      const value = check();
      if (value) return value;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  waitFrame(type: string): Promise<Frame> {
    return this.until(() => this.frames.find((f) => f.type === type));
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed);
  }

  close(): void {
    this.ws.close(1000);
  }
}
