import { once } from 'node:events';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres, openTestStorage } from '../test-support/database.js';
import { DatabaseTimeoutError, isDatabaseUnavailable } from './availability.js';
import { openStorage, pingDatabase, type Storage } from './database.js';
import { createOutageLog } from './outage-log.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('isDatabaseUnavailable', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  it('is false for what the database refused: a query, a constraint, a bad value', async () => {
    for (const query of [
      sql`select * from no_such_table`,
      sql`select 1/0`,
      sql`select 'x'::int`,
      sql`insert into accounts (slug, name, plan) values (null, null, null)`,
    ]) {
      const error = await rejection(query.execute(storage.db));
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    expect(isDatabaseUnavailable({ code: '23505' })).toBe(false);
  });

  it('is true for a refused connection, through a pool, a client and Kysely', async () => {
    const url = `postgres://nobody@127.0.0.1:${await closedPort()}/none`;
    const client = new pg.Client({ connectionString: url });
    expect(isDatabaseUnavailable(await rejection(client.connect()))).toBe(true);
    const refused = await openStorage({ kind: 'postgres', url });
    try {
      expect(isDatabaseUnavailable(await rejection(sql`select 1`.execute(refused.db)))).toBe(true);
      expect(isDatabaseUnavailable(await rejection(pingDatabase(refused.db, 2000)))).toBe(true);
    } finally {
      await refused.close();
    }
  });

  it.runIf(onPostgres)('is true for a connection the server terminated (57P01)', async () => {
    const victim = new pg.Client({ connectionString: process.env.DATABASE_URL });
    victim.on('error', () => {});
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!
      .pid;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const pending = rejection(victim.query('select pg_sleep(30)'));
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await admin.end();
    const error = await pending;
    expect((error as { code?: string }).code).toBe('57P01');
    expect(isDatabaseUnavailable(error)).toBe(true);
    // The client is gone for good: its next query fails the same way.
    expect(isDatabaseUnavailable(await rejection(victim.query('select 1')))).toBe(true);
    await victim.end().catch(() => {});
  });

  it('knows the other wordings, SQLSTATE classes and wrappers', () => {
    const coded = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of [
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      '08006',
      '08001',
      '57P03',
      '53300',
    ]) {
      expect(isDatabaseUnavailable(coded(code)), code).toBe(true);
    }
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'Client has encountered a connection error and is not queryable',
      'timeout exceeded when trying to connect',
      'PGlite is closed',
    ]) {
      expect(isDatabaseUnavailable(new Error(message)), message).toBe(true);
    }
    expect(isDatabaseUnavailable(new DatabaseTimeoutError(2000))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([coded('ECONNREFUSED')]))).toBe(true);
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: coded('08006') }))).toBe(true);
    expect(isDatabaseUnavailable(coded('08'))).toBe(false);
    expect(isDatabaseUnavailable(coded('42P01'))).toBe(false);
  });

  it('is true once the storage is closed (a request still in flight at shutdown)', async () => {
    // Its own storage: the other tests here keep theirs open, whatever order they run in.
    const closing = await openTestStorage();
    await sql`select 1`.execute(closing.db);
    await closing.close();
    expect(isDatabaseUnavailable(await rejection(sql`select 1`.execute(closing.db)))).toBe(true);
  });
});

describe('the outage log', () => {
  function logger() {
    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    let now = 1000;
    const outage = createOutageLog(() => now);
    const log = pino({ level: 'info', hooks: { logMethod: outage.logMethod } }, stream);
    return { lines, log, outage, advance: (ms: number) => (now += ms) };
  }
  const lost = () =>
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

  it('writes the first failure of an outage and its end, and nothing in between', async () => {
    const { lines, log, outage, advance } = logger();
    log.error({ err: lost() }, 'dispatch timeout sweep failed');
    log
      .child({ request_id: 'hreq_1' })
      .warn({ err: lost() }, 'request failed: database unavailable');
    log.error({ err: lost() }, 'fleet cleanup failed');
    log.error({ err: new Error('a bug') }, 'something else failed');
    log.info({ runner_id: 'r' }, 'an ordinary line');
    advance(8000);
    outage.connected(log);
    outage.connected(log);
    log.warn({ err: lost() }, 'request failed: database unavailable');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [
        50,
        'database unavailable (dispatch timeout sweep failed); answering 503 and not logging further database errors until it is back',
      ],
      [50, 'something else failed'],
      [30, 'an ordinary line'],
      [30, 'database reachable again'],
      [40, expect.stringMatching(/^database unavailable \(request failed/)],
    ]);
    expect(lines[0]!.err).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(lines[3]).toMatchObject({ outage_ms: 8000, errors_not_logged: 2 });
  });
});
