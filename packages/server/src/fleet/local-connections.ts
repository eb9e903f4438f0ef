import type { LiveConnection } from './live-connection.js';

/**
 * The runner sockets of this node: the newest connection of each runner, and
 * every socket until it closed and its lease was released.
 */
export class LocalConnections {
  private readonly live = new Map<string, LiveConnection>();
  /** Settles once the socket closed and `onClosed` ran. */
  private readonly finished = new Map<LiveConnection, Promise<void>>();

  constructor(private readonly onClosed: (conn: LiveConnection) => Promise<void>) {}

  get(runnerId: string): LiveConnection | undefined {
    return this.live.get(runnerId);
  }

  runnerIds(): string[] {
    return [...this.live.keys()];
  }

  all(): IterableIterator<LiveConnection> {
    return this.live.values();
  }

  /** Follows the socket until it closed. */
  track(conn: LiveConnection): void {
    const done = new Promise<void>((resolve) => {
      conn.socket.on('close', () => {
        conn.closed = true;
        conn.stopTimers();
        if (this.live.get(conn.runnerId) === conn) this.live.delete(conn.runnerId);
        this.onClosed(conn).finally(() => {
          this.finished.delete(conn);
          resolve();
        });
      });
    });
    this.finished.set(conn, done);
  }

  /** The newest generation of a runner on this node keeps it; older ones close. */
  adopt(conn: LiveConnection): void {
    const older = this.live.get(conn.runnerId);
    if (older && older.generation < conn.generation) older.supersede();
    if (!older || older.generation < conn.generation) this.live.set(conn.runnerId, conn);
    else conn.supersede();
  }

  /** Waits for every socket to finish, terminating those still open after `graceMs`. */
  async settle(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.finished.values()), grace]);
    clearTimeout(timer);
    // Sockets that did not finish the close handshake.
    for (const conn of this.finished.keys()) conn.socket.terminate();
    await Promise.all(this.finished.values());
  }
}
