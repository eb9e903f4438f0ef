import { InvalidParamsError } from '../core/errors.js';
import { normalizeTimestamp } from './timestamps.js';

/** A place in an account's export order: after chain event `seq`, off-chain event `sub` (0 = the event itself). */
export interface AuditCursor {
  seq: number;
  sub: number;
}

export const START: AuditCursor = { seq: 0, sub: 0 };
export const EXPORTED_EVENT_TYPE = 'audit.exported';
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface AuditFilter {
  /** RFC 3339 (storage form), inclusive; ignored when a cursor is given. */
  since: string | null;
  /** null = every chain event; a list may name `audit.exported`, which is otherwise left out. */
  eventTypes: string[] | null;
}

export interface AuditExportRequest {
  after: AuditCursor;
  filter: AuditFilter;
  limit: number | 'all';
}

/** base64url of the seq (`12`), or of `12.3` for the third off-chain event after seq 12. */
export function encodeCursor(cursor: AuditCursor): string {
  const text = cursor.sub === 0 ? String(cursor.seq) : `${cursor.seq}.${cursor.sub}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

const CURSOR_TEXT = /^(0|[1-9]\d{0,15})(?:\.([1-9]\d{0,8}))?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function decodeCursor(text: string): AuditCursor | undefined {
  if (text.length > 40 || !BASE64URL.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  // Only the one spelling we issue: re-encoding must give the same text back.
  const match = CURSOR_TEXT.exec(decoded);
  if (!match) return undefined;
  const cursor = { seq: Number(match[1]), sub: match[2] ? Number(match[2]) : 0 };
  if (!Number.isSafeInteger(cursor.seq) || encodeCursor(cursor) !== text) return undefined;
  return cursor;
}

const EVENT_TYPE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/;
const MAX_EVENT_TYPES = 50;

type QueryValue = string | string[] | undefined;

/** The raw query string of `GET /api/audit` (repeated keys arrive as arrays). */
export interface RawAuditQuery {
  cursor?: QueryValue;
  since?: QueryValue;
  event_type?: QueryValue;
  limit?: QueryValue;
}

function single(name: string, value: QueryValue): string | undefined {
  if (Array.isArray(value)) throw new InvalidParamsError(`${name} may be given once.`);
  return value;
}

/** Validates `GET /api/audit` parameters; anything malformed is a 400 `invalid_params`. */
export function parseAuditQuery(raw: RawAuditQuery): AuditExportRequest {
  const cursorText = single('cursor', raw.cursor);
  const sinceText = single('since', raw.since);
  const limitText = single('limit', raw.limit);

  let after = START;
  if (cursorText !== undefined) {
    const cursor = decodeCursor(cursorText);
    if (!cursor) throw new InvalidParamsError('cursor is not one this server issued.');
    after = cursor;
  }
  let since: string | null = null;
  if (sinceText !== undefined) {
    since = normalizeTimestamp(sinceText) ?? null;
    if (since === null) {
      throw new InvalidParamsError('since must be an ISO-8601 date or RFC 3339 date-time.');
    }
  }
  let limit: number | 'all' = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (limitText === 'all') limit = 'all';
    else if (/^[1-9]\d*$/.test(limitText)) {
      limit = limitText.length > 4 ? MAX_LIMIT : Math.min(Number(limitText), MAX_LIMIT);
    } else throw new InvalidParamsError('limit must be a positive integer or "all".');
  }
  let eventTypes: string[] | null = null;
  if (raw.event_type !== undefined) {
    const values = Array.isArray(raw.event_type) ? raw.event_type : [raw.event_type];
    const types = values.flatMap((v) => v.split(',')).map((v) => v.trim());
    if (
      types.length > MAX_EVENT_TYPES ||
      types.some((t) => t.length > 100 || !EVENT_TYPE.test(t))
    ) {
      throw new InvalidParamsError('event_type must be event types such as user.signed_in.');
    }
    eventTypes = [...new Set(types)];
  }
  // The cursor wins over since: a poller's position already says where to resume.
  return { after, filter: { since: cursorText === undefined ? since : null, eventTypes }, limit };
}
