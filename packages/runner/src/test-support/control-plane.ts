import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export type Frame = Record<string, unknown> & { type: string };

/**
 * A real HTTP + WebSocket control plane for tests: enrollment endpoints and
 * /runner/socket, recording every frame the runner sends. Tests drive it by
 * sending raw text, dropping sockets and waiting for frames.
 */
export class FakeControlPlane {
  readonly frames: Frame[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  registrations = 0;
  /** Drop this many registration requests on the floor (the runner sees a network error). */
  dropRegistrations = 0;
  /** Answer this many registration requests 429 `rate_limited` with Retry-After: 1. */
  busyRegistrations = 0;
  refreshes = 0;
  /** Status to answer /runner/token/refresh with instead of a new token. */
  refreshStatus: number | undefined;
  socketStatus: number | undefined;
  issuedToken = `rnrtok-${'t'.repeat(43)}`;
  private server!: Server;
  private wss!: WebSocketServer;
  socket: WebSocket | undefined;
  connections = 0;
  private waiters: (() => void)[] = [];
  /** Runs on every frame the runner sends, before waiters wake. */
  onFrame: ((frame: Frame, socket: WebSocket) => void) | undefined;

  async start(): Promise<string> {
    this.wss = new WebSocketServer({ noServer: true });
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/runner/register') {
          if (this.dropRegistrations > 0) {
            this.dropRegistrations -= 1;
            request.socket.destroy();
            return;
          }
          if (this.busyRegistrations > 0) {
            this.busyRegistrations -= 1;
            response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
            response.end('{"error":"rate_limited"}');
            return;
          }
          this.registrations += 1;
          response.writeHead(201, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ token: this.issuedToken, refresh_after: '2999-01-01T00:00:00Z' }),
          );
          return;
        }
        if (request.method === 'POST' && request.url === '/runner/token/refresh') {
          this.refreshes += 1;
          if (
            this.refreshStatus ||
            request.headers.authorization !== `Bearer ${this.issuedToken}`
          ) {
            response.writeHead(this.refreshStatus ?? 401, { 'content-type': 'application/json' });
            response.end('{"error":"token_invalid"}');
            return;
          }
          this.issuedToken = `rnrtok-${'r'.repeat(40)}${this.refreshes.toString().padStart(3, '0')}`;
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ token: this.issuedToken, refresh_after: '2999-01-01T00:00:00Z' }),
          );
          return;
        }
        if (request.url === '/healthz') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"status":"ok"}');
          return;
        }
        response.writeHead(404);
        response.end();
      });
    });
    this.server.on('upgrade', (request: IncomingMessage, socket, head) => {
      const status =
        this.socketStatus ??
        (request.headers.authorization === `Bearer ${this.issuedToken}` ? undefined : 401);
      if (request.url !== '/runner/socket' || status !== undefined) {
        socket.end(
          `HTTP/1.1 ${status ?? 404} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private accept(ws: WebSocket): void {
    this.socket?.terminate();
    this.socket = ws;
    this.connections += 1;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.onFrame?.(frame, ws);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closes.push({ code, reason: String(reason) });
      if (this.socket === ws) this.socket = undefined;
      this.wake();
    });
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves once check() holds (re-checked on every event; the test timeout bounds it). */
  async until<T>(check: () => T | undefined | false): Promise<T> {
    for (;;) {
      const value = check();
      if (value) return value;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  framesOf(type: string, requestId?: string): Frame[] {
    return this.frames.filter(
      (f) => f.type === type && (requestId === undefined || f.request_id === requestId),
    );
  }

  waitFrame(type: string, requestId?: string, count = 1): Promise<Frame> {
    return this.until(() => {
      const found = this.framesOf(type, requestId);
      return found.length >= count ? found[count - 1] : undefined;
    });
  }

  async connected(): Promise<WebSocket> {
    return this.until(() => (this.socket?.readyState === WebSocket.OPEN ? this.socket : undefined));
  }

  async send(frame: Frame | string): Promise<void> {
    const ws = await this.connected();
    ws.send(typeof frame === 'string' ? frame : JSON.stringify({ protocol_version: 1, ...frame }));
  }

  drop(): void {
    this.socket?.terminate();
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
