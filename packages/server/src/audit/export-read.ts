import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { EXPORTED_FIELDS } from './chain.js';
import type { ExportCoverage } from './export-head.js';
import { type AuditCursor, type AuditFilter, EXPORTED_EVENT_TYPE } from './query.js';

/** Lines per string handed to the socket (about 35 KB). */
const LINES_PER_PIECE = 64;
const MAX_SPAN = 1 << 20;
/** Larger than any `cursor_sub` (an int4). */
const MAX_SUB = 2_147_483_647;
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

/** Consecutive exported lines, aggregated by the database into a few strings. */
export interface Batch {
  count: number;
  /** The position of the last line; null when the batch is empty. */
  last: AuditCursor | null;
  /** The lines, each followed by a newline, in pieces of at most LINES_PER_PIECE. */
  pieces: string[];
}

export const EMPTY: Batch = { count: 0, last: null, pieces: [] };

export interface ChainHead {
  seq: number;
  hash: string | null;
}

async function fetchWindow(
  db: Kysely<Database>,
  accountId: string,
  filter: AuditFilter,
  after: AuditCursor,
  upTo: AuditCursor,
  limit: number,
): Promise<Batch> {
  const lines = db
    .selectFrom('audit_events')
    .select(['cursor_seq', 'cursor_sub', LINE.as('line')])
    .where('account_id', '=', accountId)
    .$call((qb) => applyFilter(qb, filter))
    .where(({ eb, refTuple, tuple }) =>
      eb.and([
        eb(refTuple('cursor_seq', 'cursor_sub'), '>', tuple(after.seq, after.sub)),
        eb(refTuple('cursor_seq', 'cursor_sub'), '<=', tuple(upTo.seq, upTo.sub)),
      ]),
    )
    .orderBy('cursor_seq')
    .orderBy('cursor_sub')
    .limit(limit);
  // A few strings per batch rather than a row object and a string per event,
  // each small enough to die young: the export allocates little, so the
  // node's memory stays flat however many events it sends.
  const numbered = db
    .selectFrom(lines.as('l'))
    .select([
      'l.cursor_seq',
      'l.cursor_sub',
      'l.line',
      sql<number>`(row_number() over (order by l.cursor_seq, l.cursor_sub) - 1) / ${LINES_PER_PIECE}`.as(
        'piece',
      ),
    ]);
  const rows = await db
    .selectFrom(numbered.as('n'))
    .select([
      sql<number>`count(*)`.as('count'),
      sql<number>`(max(array[n.cursor_seq, n.cursor_sub::bigint]))[1]`.as('last_seq'),
      sql<number>`(max(array[n.cursor_seq, n.cursor_sub::bigint]))[2]`.as('last_sub'),
      sql<string>`string_agg(n.line || E'\\n', '' order by n.cursor_seq, n.cursor_sub)`.as('text'),
    ])
    .groupBy('n.piece')
    .orderBy('n.piece')
    .execute();
  const last = rows.at(-1);
  if (!last) return EMPTY;
  return {
    count: rows.reduce((sum, row) => sum + row.count, 0),
    last: { seq: last.last_seq, sub: last.last_sub },
    pieces: rows.map((row) => row.text),
  };
}

/**
 * Up to `limit` matching rows in (after, end], read through windows of the
 * order that start at `limit` positions and double while they come back
 * short. Every query is bounded by its window, so even a plan made from
 * stale statistics (a bitmap scan and a sort) costs the window, never the
 * rest of the account's history; a dense chain takes one query per batch.
 */
export async function fetchRange(
  db: Kysely<Database>,
  accountId: string,
  filter: AuditFilter,
  after: AuditCursor,
  end: AuditCursor,
  limit: number,
): Promise<Batch> {
  let batch = EMPTY;
  let from = after;
  let span = limit;
  while (batch.count < limit && isBefore(from, end)) {
    const windowSeq = Math.min(from.seq + span, end.seq);
    const windowEnd = windowSeq === end.seq ? end : { seq: windowSeq, sub: MAX_SUB };
    const needed = limit - batch.count;
    const got = await fetchWindow(db, accountId, filter, from, windowEnd, needed);
    if (got.count > 0) {
      batch = {
        count: batch.count + got.count,
        last: got.last,
        pieces: [...batch.pieces, ...got.pieces],
      };
    }
    if (got.count === needed) break;
    from = windowEnd;
    span = Math.min(span * 2, MAX_SPAN);
  }
  return batch;
}

/**
 * The chain head now, and the last position committed now (later commits
 * take later positions): where an export that starts now ends.
 */
export async function exportEnd(
  db: Kysely<Database>,
  accountId: string,
  filter: AuditFilter,
): Promise<{ head: ChainHead; end: AuditCursor | null }> {
  const row = await db
    .selectFrom('audit_chain_heads')
    .select(['seq', 'hash'])
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  const head = { seq: row?.seq ?? 0, hash: row?.hash ?? null };
  if (!filter.eventTypes?.includes(EXPORTED_EVENT_TYPE)) {
    return { head, end: head.seq ? { seq: head.seq, sub: 0 } : null };
  }
  const offChain = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('cursor_sub').as('sub'))
    .where('account_id', '=', accountId)
    .where('cursor_seq', '=', head.seq)
    .executeTakeFirst();
  const sub = offChain?.sub ?? 0;
  return { head, end: head.seq || sub ? { seq: head.seq, sub } : null };
}

/**
 * What a response covered. Read after its rows, so ranges a sweep deleted
 * while it ran are listed (an exported row may be among them).
 */
export async function coverageOf(
  db: Kysely<Database>,
  accountId: string,
  range: { after: AuditCursor; through: AuditCursor; head: ChainHead },
  filter: AuditFilter,
): Promise<ExportCoverage> {
  const row = await db
    .selectFrom('audit_chain_heads')
    .select('removed_by_retention')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return {
    account_id: accountId,
    head_seq: range.head.seq,
    head_hash: range.head.hash,
    removed_by_retention: row?.removed_by_retention ?? [],
    after: range.after,
    through: range.through,
    filter: { since: filter.since, event_types: filter.eventTypes },
  };
}

const isBefore = (a: AuditCursor, b: AuditCursor) =>
  a.seq < b.seq || (a.seq === b.seq && a.sub < b.sub);

/** The later of two positions; `b` may be absent. */
export const later = (a: AuditCursor, b: AuditCursor | null) => (b && isBefore(a, b) ? b : a);

function applyFilter<O>(
  qb: SelectQueryBuilder<Database, 'audit_events', O>,
  filter: AuditFilter,
): SelectQueryBuilder<Database, 'audit_events', O> {
  let query = qb;
  // Off-chain events (audit.exported) only when asked for by name.
  if (filter.eventTypes?.length === 0) query = query.where(sql<boolean>`false`);
  else if (filter.eventTypes) query = query.where('event_type', 'in', filter.eventTypes);
  else query = query.where('seq', 'is not', null);
  if (filter.since) query = query.where('occurred_at', '>=', filter.since);
  return query;
}
