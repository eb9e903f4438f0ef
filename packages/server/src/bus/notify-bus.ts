import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Storage } from '../db/database.js';
import type { Database } from '../db/schema.js';

export type NotifyHandler = (payload: string) => void;

/**
 * Cross-node events over Postgres LISTEN/NOTIFY (in-process on PGlite).
 * Payloads carry ids only; receivers read the rows. `publish` takes the
 * executor so a notification inside a transaction is delivered on commit.
 */
export interface NotifyBus {
  subscribe(channel: string, handler: NotifyHandler): Promise<() => Promise<void>>;
  publish(executor: Kysely<Database>, channel: string, payload: string): Promise<void>;
  /** Calls `listener` each time the bus is back after losing notifications (PostgreSQL only). */
  onResume(listener: () => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/;

function checkChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error('invalid notify channel name');
}

async function publish(executor: Kysely<Database>, channel: string, payload: string) {
  checkChannel(channel);
  await sql`select pg_notify(${channel}, ${payload})`.execute(executor);
}

export interface NotifyBusLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const SILENT: NotifyBusLog = { info() {}, warn() {} };
const RECONNECT_MS = 1000;

export function createNotifyBus(storage: Storage, log: NotifyBusLog = SILENT): NotifyBus {
  if (storage.pglite) return pgliteBus(storage.pglite);
  if (storage.postgresConfig) return postgresBus(storage.postgresConfig, log);
  throw new Error('storage has neither PGlite nor PostgreSQL settings');
}

function pgliteBus(pglite: NonNullable<Storage['pglite']>): NotifyBus {
  return {
    async subscribe(channel, handler) {
      checkChannel(channel);
      const unlisten = await pglite.listen(channel, handler);
      return async () => {
        if (!pglite.closed) await unlisten();
      };
    },
    publish,
    // In-process: there is no connection to lose.
    onResume: () => () => {},
    async close() {},
  };
}

/**
 * One dedicated LISTEN connection per node, re-established every second while
 * it is down. Notifications sent while it was down are lost: `onResume`
 * listeners hear when it is back and re-read what they care about.
 */
function postgresBus(config: pg.ClientConfig, log: NotifyBusLog): NotifyBus {
  return new PostgresBus(config, log);
}

class PostgresBus implements NotifyBus {
  private readonly handlers = new Map<string, Set<NotifyHandler>>();
  private readonly resumeListeners = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;
  private lost = false;
  private retry: NodeJS.Timeout | undefined;

  readonly publish = publish;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly log: NotifyBusLog,
  ) {}

  async subscribe(channel: string, handler: NotifyHandler): Promise<() => Promise<void>> {
    checkChannel(channel);
    let set = this.handlers.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    try {
      const listener = this.client ?? (await this.connect());
      if (first) await listener.query(`LISTEN ${channel}`);
    } catch (error) {
      await this.unsubscribe(channel, set, handler);
      throw error;
    }
    const subscribed = set;
    return () => this.unsubscribe(channel, subscribed, handler);
  }

  onResume(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const current = this.client;
    this.client = undefined;
    await current?.end().catch(() => {});
  }

  /** The one connection attempt in flight, or a new one. */
  private connect(): Promise<pg.Client> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Connects and LISTENs on every subscribed channel; tells resume listeners after a loss. */
  private async open(): Promise<pg.Client> {
    const next = new pg.Client(this.config);
    next.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) {
        handler(message.payload ?? '');
      }
    });
    next.on('error', (error) => this.connectionLost(next, error));
    next.on('end', () => this.connectionLost(next, undefined));
    try {
      await next.connect();
      for (const channel of this.handlers.keys()) await next.query(`LISTEN ${channel}`);
    } catch (error) {
      next.end().catch(() => {});
      throw error;
    }
    this.client = next;
    if (this.lost) {
      this.lost = false;
      this.log.info({}, 'LISTEN connection re-established');
      for (const listener of this.resumeListeners) listener();
    }
    return next;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.connect().catch(() => this.scheduleReconnect());
    }, RECONNECT_MS);
  }

  private connectionLost(dead: pg.Client, error: Error | undefined): void {
    if (this.client !== dead || this.closed) return;
    this.client = undefined;
    this.lost = true;
    this.log.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    dead.end().catch(() => {});
    this.scheduleReconnect();
  }

  private async unsubscribe(
    channel: string,
    set: Set<NotifyHandler>,
    handler: NotifyHandler,
  ): Promise<void> {
    set.delete(handler);
    if (set.size === 0 && this.handlers.get(channel) === set) {
      this.handlers.delete(channel);
      await this.client?.query(`UNLISTEN ${channel}`).catch(() => {});
    }
  }
}
