import type { Kysely } from 'kysely';
import type { AuditContext } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import type { ExportCoverage } from './export-head.js';
import { coverageOf, EMPTY, exportEnd, fetchRange, later } from './export-read.js';
import {
  type AuditCursor,
  type AuditExportRequest,
  type AuditFilter,
  EXPORTED_EVENT_TYPE,
  encodeCursor,
} from './query.js';
import { lockAuditChain, recordOffChainAuditEvent } from './record.js';

/** Rows per keyset query when streaming: memory stays at about two batches. */
const STREAM_BATCH = 2000;
const EXPORT_NOTE_INTERVAL_MS = 60 * 60 * 1000;

export interface AuditPage {
  /** How many events `text` holds. */
  count: number;
  /** NDJSON: each line ends in a newline. */
  text: string;
  /** Where the next request resumes (the last event's position); null when the page is empty. */
  last: AuditCursor | null;
  /** The page holds `limit` events, so more may follow at once. */
  full: boolean;
  /** What the page covered, for its signed head statement. */
  coverage(): Promise<ExportCoverage>;
}

export interface AuditStream {
  /** Where the next poll resumes: the end of the order when the stream started; null when it sends nothing. */
  next: AuditCursor | null;
  /** NDJSON text in chunks of whole lines, each line ending in a newline. */
  chunks: AsyncGenerator<string, void>;
  /** Lines sent so far. */
  sent(): number;
  /** What the stream covered, for its signed head statement; ask once `chunks` is done. */
  coverage(): Promise<ExportCoverage>;
}

export interface ExportNote {
  accountId: string;
  keyId: string;
  request: AuditExportRequest;
  events: number;
  context: AuditContext;
}

export interface AuditExportService {
  page(accountId: string, request: AuditExportRequest & { limit: number }): Promise<AuditPage>;
  stream(accountId: string, after: AuditCursor, filter: AuditFilter): Promise<AuditStream>;
  /** Writes `audit.exported` unless this key already has one within the hour; true when written. */
  noteExport(note: ExportNote): Promise<boolean>;
}

export function createAuditExportService(deps: {
  db: Kysely<Database>;
  clock: Clock;
}): AuditExportService {
  const { db, clock } = deps;
  return {
    page: (accountId, request) => exportPage(db, accountId, request),
    stream: (accountId, after, filter) => exportStream(db, accountId, after, filter),
    noteExport: (note) => noteExport(db, clock.now(), note),
  };
}

/** Up to `limit` events after the cursor, up to what was committed when the page was asked for. */
async function exportPage(
  db: Kysely<Database>,
  accountId: string,
  request: AuditExportRequest & { limit: number },
): Promise<AuditPage> {
  const { head, end } = await exportEnd(db, accountId, request.filter);
  const batch = end
    ? await fetchRange(db, accountId, request.filter, request.after, end, request.limit)
    : EMPTY;
  const full = batch.count === request.limit;
  const through = full && batch.last ? batch.last : later(request.after, end);
  return {
    count: batch.count,
    last: batch.last,
    text: batch.pieces.join(''),
    full,
    coverage: () =>
      coverageOf(db, accountId, { after: request.after, through, head }, request.filter),
  };
}

/** Every event after the cursor committed by now, fetched a batch ahead of the socket. */
async function exportStream(
  db: Kysely<Database>,
  accountId: string,
  after: AuditCursor,
  filter: AuditFilter,
): Promise<AuditStream> {
  // Everything committed by now; the next poll from the cursor picks up the rest.
  const { head, end } = await exportEnd(db, accountId, filter);
  const first = end ? await fetchRange(db, accountId, filter, after, end, STREAM_BATCH) : EMPTY;
  let sent = 0;
  async function* chunks(): AsyncGenerator<string, void> {
    let batch = first;
    while (batch.count > 0) {
      // Fetch the next batch while this one is written out.
      const next =
        batch.count === STREAM_BATCH && batch.last
          ? fetchRange(db, accountId, filter, batch.last, end!, STREAM_BATCH)
          : Promise.resolve(EMPTY);
      sent += batch.count;
      yield* batch.pieces;
      batch = await next;
    }
  }
  return {
    next: first.count ? end : null,
    chunks: chunks(),
    sent: () => sent,
    coverage: () => coverageOf(db, accountId, { after, through: later(after, end), head }, filter),
  };
}

/** Writes `audit.exported` unless this key already has one within the hour; true when written. */
async function noteExport(db: Kysely<Database>, now: Date, note: ExportNote): Promise<boolean> {
  const windowStart = new Date(now.getTime() - EXPORT_NOTE_INTERVAL_MS).toISOString();
  const noted = (executor: Kysely<Database>) =>
    executor
      .selectFrom('audit_events')
      .select('id')
      .where('account_id', '=', note.accountId)
      .where('event_type', '=', EXPORTED_EVENT_TYPE)
      .where('actor_kind', '=', 'api_key')
      .where('actor_id', '=', note.keyId)
      .where('occurred_at', '>', windowStart)
      .limit(1)
      .executeTakeFirst();
  if (await noted(db)) return false;
  return db.transaction().execute(async (trx) => {
    // Again under the chain lock, so two nodes serving one key cannot both write it.
    await lockAuditChain(trx, note.accountId);
    if (await noted(trx)) return false;
    const { request } = note;
    await recordOffChainAuditEvent(trx, {
      accountId: note.accountId,
      eventType: EXPORTED_EVENT_TYPE,
      actor: { kind: 'api_key', id: note.keyId, label: null },
      payload: {
        events: note.events,
        limit: request.limit,
        cursor: isStart(request.after) ? null : encodeCursor(request.after),
        since: request.filter.since,
        event_types: request.filter.eventTypes,
      },
      context: note.context,
      occurredAt: now.toISOString(),
    });
    return true;
  });
}

const isStart = (cursor: AuditCursor) => cursor.seq === 0 && cursor.sub === 0;
