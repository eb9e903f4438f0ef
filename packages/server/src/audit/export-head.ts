import { type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson, isJsonObject, type JsonObject } from '@emisar/protocol';
import type { Clock } from '../core/clock.js';
import type { AuditCursor } from './query.js';
import { isSeqRangeList, type SeqRange } from './seq-ranges.js';
import { auditKeyId } from './signing-key.js';
import { normalizeTimestamp } from './timestamps.js';

export const EXPORT_HEAD_TYPE = 'emisar.audit_export_head.v1';

/**
 * What one export response covered, as the server saw it: the last line of
 * every `GET /api/audit` response, signed, so a verifier knows whether it saw
 * the chain up to its head and which gaps retention made.
 */
export interface ExportCoverage {
  account_id: string;
  /** The chain head when the response began (0 and null for an empty chain). */
  head_seq: number;
  head_hash: string | null;
  /** The seqs the retention sweep had deleted, as merged ranges. */
  removed_by_retention: SeqRange[];
  /** The response holds every matching event in (after, through]. */
  after: AuditCursor;
  through: AuditCursor;
  /** The request's filter; both null for an unfiltered export. */
  filter: { since: string | null; event_types: string[] | null };
}

export interface ExportHead extends ExportCoverage {
  type: typeof EXPORT_HEAD_TYPE;
  signed_at: string;
  key_id: string;
}

export type SignedExportHead = ExportHead & { signature: string };

/** The bytes signed: the canonical JSON of the statement without its signature (its `type` keeps it apart from anything else the key signs). */
export function exportHeadMessage(head: ExportHead): Buffer {
  const { signature: _none, ...unsigned } = head as SignedExportHead;
  return Buffer.from(canonicalJson(unsigned as unknown as JsonObject), 'utf8');
}

/** Signs what a response covered; returns its NDJSON line. */
export function createExportHeadSigner(deps: {
  signingKey: KeyObject;
  clock: Clock;
}): (coverage: ExportCoverage) => string {
  const keyId = auditKeyId(deps.signingKey);
  return (coverage) => {
    const head: ExportHead = {
      type: EXPORT_HEAD_TYPE,
      ...coverage,
      signed_at: normalizeTimestamp(deps.clock.now().toISOString())!,
      key_id: keyId,
    };
    const signature = sign(null, exportHeadMessage(head), deps.signingKey).toString('base64');
    return `${JSON.stringify({ ...head, signature })}\n`;
  };
}

/** A parsed line that claims to be a head statement: the statement, or what is wrong with it. */
export function parseExportHead(value: JsonObject): SignedExportHead | string {
  const keys: Record<keyof SignedExportHead, (v: unknown) => boolean> = {
    type: (v) => v === EXPORT_HEAD_TYPE,
    account_id: (v) => typeof v === 'string',
    head_seq: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
    head_hash: (v) => v === null || (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)),
    removed_by_retention: isSeqRangeList,
    after: isCursor,
    through: isCursor,
    filter: isFilter,
    signed_at: (v) => typeof v === 'string',
    key_id: (v) => typeof v === 'string',
    signature: (v) => typeof v === 'string',
  };
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(keys, key)) return `unexpected field "${key.slice(0, 40)}"`;
  }
  for (const [key, check] of Object.entries(keys)) {
    if (!Object.hasOwn(value, key) || !check(value[key])) return `"${key}" is missing or malformed`;
  }
  return value as unknown as SignedExportHead;
}

/** Whether the statement's signature holds under `key`. */
export function exportHeadSignedBy(head: SignedExportHead, key: KeyObject): boolean {
  try {
    return verify(null, exportHeadMessage(head), key, Buffer.from(head.signature, 'base64'));
  } catch {
    return false;
  }
}

/** An unfiltered export claims the whole chain in its range; a filtered one only its matches. */
export function isUnfiltered(head: ExportCoverage): boolean {
  return head.filter.since === null && head.filter.event_types === null;
}

function isCursor(value: unknown): boolean {
  if (!isJsonObject(value)) return false;
  const { seq, sub, ...rest } = value as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    Number.isSafeInteger(seq) &&
    (seq as number) >= 0 &&
    Number.isSafeInteger(sub) &&
    (sub as number) >= 0
  );
}

function isFilter(value: unknown): boolean {
  if (!isJsonObject(value)) return false;
  const { since, event_types, ...rest } = value as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    (since === null || typeof since === 'string') &&
    (event_types === null ||
      (Array.isArray(event_types) && event_types.every((t) => typeof t === 'string')))
  );
}
