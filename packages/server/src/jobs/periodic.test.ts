import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres, openTestStorage, type TestStorage } from '../test-support/database.js';
import { type JobLog, runJobOnce, startPeriodicJob, WakeUp } from './periodic.js';

const LOCK = { namespace: 0x74657374, key: 7 };

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

function recordingLog(): JobLog & { lines: string[] } {
  const lines: string[] = [];
  const push = (_fields: object, message: string) => {
    lines.push(message);
  };
  return { lines, info: push, debug: push, error: push };
}

describe(`periodic jobs (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: TestStorage;
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  it.runIf(onPostgres)('does nothing while another node holds the lock', async () => {
    const otherNode = new pg.Client(storage.postgresConfig);
    await otherNode.connect();
    let passes = 0;
    const job = { lock: LOCK, run: async () => ({ pass: ++passes }) };
    try {
      await otherNode.query('select pg_advisory_lock($1, $2)', [LOCK.namespace, LOCK.key]);
      expect(await runJobOnce(storage.db, job)).toEqual({ ran: false });
      expect(passes).toBe(0);
      await otherNode.query('select pg_advisory_unlock($1, $2)', [LOCK.namespace, LOCK.key]);
      expect(await runJobOnce(storage.db, job)).toEqual({ ran: true, result: { pass: 1 } });
    } finally {
      await otherNode.end();
    }
  });

  it.runIf(onPostgres)(
    'holds the lock for the whole pass: a second pass meanwhile skips',
    async () => {
      const inside = signal();
      const release = signal();
      const first = runJobOnce(storage.db, {
        lock: LOCK,
        run: async () => {
          inside.fire();
          await release.promise;
          return { which: 'first' };
        },
      });
      await inside.promise;
      expect(
        await runJobOnce(storage.db, { lock: LOCK, run: async () => ({ which: 'second' }) }),
      ).toEqual({ ran: false });
      release.fire();
      expect(await first).toEqual({ ran: true, result: { which: 'first' } });
    },
  );

  it.skipIf(onPostgres)(
    'on PGlite (one process, one session) passes queue and never overlap',
    async () => {
      const events: string[] = [];
      const pass = (name: string) =>
        runJobOnce(storage.db, {
          lock: LOCK,
          run: async () => {
            events.push(`${name} start`);
            await new Promise((resolve) => setTimeout(resolve, 20));
            events.push(`${name} end`);
            return {};
          },
        });
      const outcomes = await Promise.all([pass('a'), pass('b')]);
      expect(outcomes.every((o) => o.ran)).toBe(true);
      expect(events).toEqual(['a start', 'a end', 'b start', 'b end']);
    },
  );

  it('releases the lock when a pass fails', async () => {
    await expect(
      runJobOnce(storage.db, {
        lock: LOCK,
        run: async () => {
          throw new Error('pass failed');
        },
      }),
    ).rejects.toThrow('pass failed');
    expect(await runJobOnce(storage.db, { lock: LOCK, run: async () => ({}) })).toEqual({
      ran: true,
      result: {},
    });
  });

  it('repeats on its interval without stacking a slow pass on itself', async () => {
    const slow = signal();
    let passes = 0;
    let inFlight = 0;
    let most = 0;
    const running = startPeriodicJob(
      {
        name: 'slow job',
        lock: LOCK,
        intervalMs: 5,
        firstDelayMs: 0,
        run: async () => {
          passes += 1;
          inFlight += 1;
          most = Math.max(most, inFlight);
          if (passes === 1) await slow.promise;
          inFlight -= 1;
          return {};
        },
      },
      { db: storage.db, log: recordingLog() },
    );
    await expect.poll(() => passes).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 30)); // several ticks pass meanwhile
    expect(passes).toBe(1);
    slow.fire();
    await expect.poll(() => passes).toBeGreaterThanOrEqual(3);
    await running.stop();
    expect(most).toBe(1);
  });

  it('runs on a wake-up, logs each pass and failure, and stops', async () => {
    const log = recordingLog();
    const wakeUp = new WakeUp();
    let passes = 0;
    let failNext = false;
    const running = startPeriodicJob(
      {
        name: 'test job',
        lock: LOCK,
        intervalMs: 3_600_000,
        firstDelayMs: 0,
        wakeUp,
        run: async () => {
          passes += 1;
          if (failNext) {
            failNext = false;
            throw new Error('boom');
          }
          return { passes };
        },
      },
      { db: storage.db, log },
    );
    await expect.poll(() => passes).toBe(1);
    failNext = true;
    wakeUp.fire();
    await expect.poll(() => log.lines).toContain('test job failed');
    running.runSoon();
    await expect.poll(() => passes).toBe(3);
    await running.stop();
    wakeUp.fire();
    running.runSoon();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(passes).toBe(3);
    expect(log.lines.filter((line) => line === 'test job done')).toHaveLength(2);
  });
});
