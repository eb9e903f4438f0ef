import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { EXPORTED_FIELDS } from './chain.js';
import {
  type AuditCursor,
  type AuditExportRequest,
  type AuditFilter,
  EXPORTED_EVENT_TYPE,
  encodeCursor,
} from './query.js';
import { type AuditContext, lockAuditChain, recordOffChainAuditEvent } from './record.js';

/** Rows per keyset query when streaming: memory stays at about two batches. */
const STREAM_BATCH = 2000;
const EXPORT_NOTE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * One exported line, built by the database so the node only moves text:
 * compact JSON in the documented field order, timestamps with microseconds,
 * and the payload spliced verbatim from its stored canonical text.
 */
const LINE = sql<string>`${sql.raw(lineExpression())}`;

function lineExpression(): string {
  const value = (field: (typeof EXPORTED_FIELDS)[number]): string => {
    switch (field) {
      case 'seq':
        return `coalesce(seq::text, 'null')`;
      case 'mfa':
        return `coalesce(mfa::text, 'null')`;
      case 'payload':
        return 'payload::text';
      case 'occurred_at':
        return `'"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'`;
      default:
        return `coalesce(to_json(${field})::text, 'null')`;
    }
  };
  const members = EXPORTED_FIELDS.map(
    (field, i) => `'${i === 0 ? '{' : ','}"${field}":' || ${value(field)}`,
  );
  return `(${members.join(' || ')} || '}')`;
}

interface ExportRow {
  cursor_seq: number;
  cursor_sub: number;
  line: string;
}

export interface AuditPage {
  /** NDJSON lines without their newline. */
  lines: string[];
  /** Where the next request resumes; null when the page is empty. */
  next: AuditCursor | null;
  /** The page holds `limit` events, so more may follow at once. */
  full: boolean;
}

export interface AuditStream {
  /** The last event the stream will send (fixed when it starts); null when there is none. */
  next: AuditCursor | null;
  /** NDJSON text in chunks of whole lines, each line ending in a newline. */
  chunks: AsyncGenerator<string, void>;
  /** Lines sent so far. */
  sent(): number;
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

  const matching = (accountId: string, filter: AuditFilter) =>
    db
      .selectFrom('audit_events')
      .where('account_id', '=', accountId)
      .$call((qb) => applyFilter(qb, filter));

  const fetchBatch = (
    accountId: string,
    filter: AuditFilter,
    after: AuditCursor,
    limit: number,
    upTo?: AuditCursor,
  ): Promise<ExportRow[]> =>
    matching(accountId, filter)
      .select(['cursor_seq', 'cursor_sub', LINE.as('line')])
      .where(({ eb, refTuple, tuple }) =>
        eb(refTuple('cursor_seq', 'cursor_sub'), '>', tuple(after.seq, after.sub)),
      )
      .$if(upTo !== undefined, (qb) =>
        qb.where(({ eb, refTuple, tuple }) =>
          eb(refTuple('cursor_seq', 'cursor_sub'), '<=', tuple(upTo!.seq, upTo!.sub)),
        ),
      )
      .orderBy('cursor_seq')
      .orderBy('cursor_sub')
      .limit(limit)
      .execute();

  return {
    async page(accountId, request) {
      const rows = await fetchBatch(accountId, request.filter, request.after, request.limit);
      return {
        lines: rows.map((row) => row.line),
        next: rows.length ? cursorOf(rows[rows.length - 1]!) : null,
        full: rows.length === request.limit,
      };
    },

    async stream(accountId, after, filter) {
      // Everything matching that has committed by now; later commits get later
      // positions, so the next poll from this cursor picks them up.
      const last = await matching(accountId, filter)
        .select(['cursor_seq', 'cursor_sub'])
        .orderBy('cursor_seq', 'desc')
        .orderBy('cursor_sub', 'desc')
        .limit(1)
        .executeTakeFirst();
      const upTo = last ? cursorOf(last) : null;
      let sent = 0;
      async function* chunks(): AsyncGenerator<string, void> {
        if (!upTo) return;
        let position = after;
        let pending = fetchBatch(accountId, filter, position, STREAM_BATCH, upTo);
        for (;;) {
          const rows = await pending;
          if (rows.length === 0) return;
          position = cursorOf(rows[rows.length - 1]!);
          // Fetch the next batch while this one is written out.
          pending =
            rows.length === STREAM_BATCH
              ? fetchBatch(accountId, filter, position, STREAM_BATCH, upTo)
              : Promise.resolve([]);
          sent += rows.length;
          let text = '';
          for (const row of rows) text += `${row.line}\n`;
          yield text;
        }
      }
      return { next: upTo, chunks: chunks(), sent: () => sent };
    },

    async noteExport(note) {
      const now = clock.now();
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
    },
  };
}

const isStart = (cursor: AuditCursor) => cursor.seq === 0 && cursor.sub === 0;

function cursorOf(row: { cursor_seq: number; cursor_sub: number }): AuditCursor {
  return { seq: row.cursor_seq, sub: row.cursor_sub };
}

function applyFilter<O>(
  qb: SelectQueryBuilder<Database, 'audit_events', O>,
  filter: AuditFilter,
): SelectQueryBuilder<Database, 'audit_events', O> {
  let query = qb;
  // Off-chain events (audit.exported) only when asked for by name.
  if (filter.eventTypes) query = query.where('event_type', 'in', filter.eventTypes);
  else query = query.where('seq', 'is not', null);
  if (filter.since) query = query.where('occurred_at', '>=', filter.since);
  return query;
}
