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
  const handlers = new Map<string, Set<NotifyHandler>>();
  const resumeListeners = new Set<() => void>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let lost = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const next = new pg.Client(config);
      next.on('notification', (message) => {
        for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
      });
      next.on('error', (error) => connectionLost(next, error));
      next.on('end', () => connectionLost(next, undefined));
      try {
        await next.connect();
        for (const channel of handlers.keys()) await next.query(`LISTEN ${channel}`);
      } catch (error) {
        next.end().catch(() => {});
        throw error;
      }
      client = next;
      if (lost) {
        lost = false;
        log.info({}, 'LISTEN connection re-established');
        for (const listener of resumeListeners) listener();
      }
      return next;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const scheduleReconnect = () => {
    if (closed) return;
    retry = setTimeout(() => {
      connect().catch(scheduleReconnect);
    }, RECONNECT_MS);
  };

  const connectionLost = (dead: pg.Client, error: Error | undefined) => {
    if (client !== dead || closed) return;
    client = undefined;
    lost = true;
    log.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    dead.end().catch(() => {});
    scheduleReconnect();
  };

  const unsubscribe = async (channel: string, set: Set<NotifyHandler>, handler: NotifyHandler) => {
    set.delete(handler);
    if (set.size === 0 && handlers.get(channel) === set) {
      handlers.delete(channel);
      await client?.query(`UNLISTEN ${channel}`).catch(() => {});
    }
  };

  return {
    async subscribe(channel, handler) {
      checkChannel(channel);
      let set = handlers.get(channel);
      const first = !set;
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(handler);
      try {
        const listener = client ?? (await connect());
        if (first) await listener.query(`LISTEN ${channel}`);
      } catch (error) {
        await unsubscribe(channel, set, handler);
        throw error;
      }
      return () => unsubscribe(channel, set, handler);
    },
    publish,
    onResume(listener) {
      resumeListeners.add(listener);
      return () => resumeListeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
