import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';

/** A cluster-wide advisory lock in PostgreSQL's two-key form (two int4). */
export interface AdvisoryLock {
  /** Names the owner, e.g. 0x72756e73 ('runs'). */
  namespace: number;
  key: number;
}

export interface JobLog {
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Lets the owner of a job ask for a pass now (mail queued after a commit). */
export class WakeUp {
  #listener: (() => void) | undefined;

  fire(): void {
    this.#listener?.();
  }

  listen(listener: (() => void) | undefined): void {
    this.#listener = listener;
  }
}

/**
 * Work the server repeats on a timer. Every node runs every job; a job with a
 * lock does its pass on one node at a time (the others skip that tick), so a
 * pass must re-derive its work from the rows and be safe to repeat.
 */
export interface PeriodicJob<Result extends object = object> {
  /** Names the job in logs: `fleet cleanup`. */
  name: string;
  /** Held (on one connection) for the whole pass; null: every node runs the pass. */
  lock: AdvisoryLock | null;
  intervalMs: number;
  /** From start to the first pass. */
  firstDelayMs: number;
  /** One pass; `db` is the connection that holds the lock. Its result is logged. */
  run(db: Kysely<Database>): Promise<Result>;
  /** Where a finished pass is logged; failures are always errors. Defaults to debug. */
  logDoneAt?: 'info' | 'debug';
  /** Fired by the job's owner to ask for a pass soon. */
  wakeUp?: WakeUp;
}

export type JobPass<Result> = { ran: false } | { ran: true; result: Result };

/** One pass of `job`, under its lock: `ran` is false when another node holds it. */
export async function runJobOnce<Result extends object>(
  db: Kysely<Database>,
  job: Pick<PeriodicJob<Result>, 'lock' | 'run'>,
): Promise<JobPass<Result>> {
  const { lock } = job;
  if (!lock) return { ran: true, result: await job.run(db) };
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_lock(${lock.namespace}, ${lock.key}) as locked
    `.execute(conn);
    if (!rows[0]?.locked) return { ran: false };
    try {
      return { ran: true, result: await job.run(conn) };
    } finally {
      await sql`select pg_advisory_unlock(${lock.namespace}, ${lock.key})`.execute(conn);
    }
  });
}

export interface RunningJob {
  /** A pass now, or one more right after the pass in progress. */
  runSoon(): void;
  /** No more passes; resolves once the pass in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `job` after its first delay and then every interval, never two passes
 * of it at once in this process (a tick during a slow pass is skipped).
 */
export function startPeriodicJob(
  job: PeriodicJob,
  deps: { db: Kysely<Database>; log: JobLog },
): RunningJob {
  let pass: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const tick = () => {
    if (stopped || pass) return;
    pass = runJobOnce(deps.db, job)
      .then(
        (outcome) => {
          const level = job.logDoneAt ?? 'debug';
          if (outcome.ran)
            deps.log[level]({ job: job.name, ...outcome.result }, `${job.name} done`);
          else deps.log.debug({ job: job.name }, `${job.name} skipped: another node holds it`);
        },
        (error: unknown) => deps.log.error({ err: error, job: job.name }, `${job.name} failed`),
      )
      .finally(() => {
        pass = undefined;
        if (again) {
          again = false;
          tick();
        }
      });
  };
  const first = setTimeout(tick, job.firstDelayMs);
  const timer = setInterval(tick, job.intervalMs);
  first.unref();
  timer.unref();
  const runSoon = () => {
    if (pass) again = true;
    else tick();
  };
  job.wakeUp?.listen(runSoon);
  return {
    runSoon,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      job.wakeUp?.listen(undefined);
      await pass;
    },
  };
}

export interface Jobs {
  start(job: PeriodicJob): RunningJob;
  /** Stops every job started here and waits for their passes in progress. */
  stop(): Promise<void>;
}

/** The jobs of one process, stopped together when it closes. */
export function createJobs(deps: { db: Kysely<Database>; log: JobLog }): Jobs {
  const running: RunningJob[] = [];
  return {
    start(job) {
      const started = startPeriodicJob(job, deps);
      running.push(started);
      return started;
    },
    async stop() {
      await Promise.all(running.splice(0).map((job) => job.stop()));
    },
  };
}
