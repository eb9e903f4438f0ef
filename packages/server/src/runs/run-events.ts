import type { Selectable } from 'kysely';
import type { Tx } from '../core/tx.js';
import type { RunEventKind, RunsTable } from './tables.js';

/**
 * Command output may hold NUL bytes, which a PostgreSQL text column refuses:
 * each becomes U+FFFD, every other character is kept as the command wrote it.
 */
const withoutNul = (text: string): string => text.replaceAll('\u0000', '\ufffd');

/** Per-run budget (spec § Runs): beyond it progress is counted as dropped, not stored. */
export const RUN_EVENTS_MAX = 50_000;
export const RUN_EVENT_BYTES_MAX = 64 * 1024 * 1024;

export interface NewRunEvent {
  kind: RunEventKind;
  stream?: 'stdout' | 'stderr' | null;
  runnerSeq?: number | null;
  payload: string;
}

type RunCounters = Pick<
  Selectable<RunsTable>,
  'id' | 'account_id' | 'event_count' | 'event_bytes' | 'events_dropped'
>;

/**
 * Appends events to a run whose row the caller has locked (`FOR UPDATE`), so
 * seq stays dense. Progress past the budget is dropped and counted; a progress
 * event whose runner seq is already stored (a replay) is skipped.
 * Returns how many events were stored.
 */
export async function appendRunEvents(
  trx: Tx,
  run: RunCounters,
  events: readonly NewRunEvent[],
  now: string,
): Promise<number> {
  let count = run.event_count;
  let bytes = run.event_bytes;
  let dropped = run.events_dropped;
  const rows = [];
  for (const event of events) {
    const payload = withoutNul(event.payload);
    const size = Buffer.byteLength(payload, 'utf8');
    if (
      event.kind === 'progress' &&
      (count >= RUN_EVENTS_MAX || bytes + size > RUN_EVENT_BYTES_MAX)
    ) {
      dropped += 1;
      continue;
    }
    count += 1;
    bytes += size;
    rows.push({
      run_id: run.id,
      seq: count,
      account_id: run.account_id,
      kind: event.kind,
      stream: event.stream ?? null,
      runner_seq: event.runnerSeq ?? null,
      payload,
      created_at: now,
    });
  }
  if (rows.length > 0) await trx.insertInto('run_events').values(rows).execute();
  if (rows.length > 0 || dropped !== run.events_dropped) {
    await trx
      .updateTable('runs')
      .set({ event_count: count, event_bytes: bytes, events_dropped: dropped })
      .where('id', '=', run.id)
      .execute();
  }
  run.event_count = count;
  run.event_bytes = bytes;
  run.events_dropped = dropped;
  return rows.length;
}

/** Whether this runner seq of the run is already stored (caller holds the run row lock). */
export async function hasRunnerSeq(trx: Tx, runId: string, runnerSeq: number): Promise<boolean> {
  const row = await trx
    .selectFrom('run_events')
    .select('seq')
    .where('run_id', '=', runId)
    .where('runner_seq', '=', runnerSeq)
    .executeTakeFirst();
  return row !== undefined;
}

/** How many distinct runner chunks the run holds. */
export async function countRunnerChunks(trx: Tx, runId: string): Promise<number> {
  const row = await trx
    .selectFrom('run_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('run_id', '=', runId)
    .where('runner_seq', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
