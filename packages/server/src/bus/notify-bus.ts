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

export function createNotifyBus(storage: Storage): NotifyBus {
  if (storage.pglite) return pgliteBus(storage.pglite);
  if (storage.postgresConfig) return postgresBus(storage.postgresConfig);
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
    async close() {},
  };
}

/** One dedicated LISTEN connection per node, re-established when it drops. */
function postgresBus(config: pg.ClientConfig): NotifyBus {
  const handlers = new Map<string, Set<NotifyHandler>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const next = new pg.Client(config);
      next.on('notification', (message) => {
        for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
      });
      next.on('error', () => reconnectSoon(next));
      next.on('end', () => reconnectSoon(next));
      await next.connect();
      for (const channel of handlers.keys()) await next.query(`LISTEN ${channel}`);
      client = next;
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
    }, 1000);
  };

  const reconnectSoon = (dead: pg.Client) => {
    if (client !== dead || closed) return;
    client = undefined;
    dead.end().catch(() => {});
    scheduleReconnect();
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
      const listener = client ?? (await connect());
      if (first) await listener.query(`LISTEN ${channel}`);
      return async () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(channel) === set) {
          handlers.delete(channel);
          await client?.query(`UNLISTEN ${channel}`).catch(() => {});
        }
      };
    },
    publish,
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
