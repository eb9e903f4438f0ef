import { type KeyObject, verify as verifySignature } from 'node:crypto';
import { isJsonObject, type JsonObject, parseStrictJson } from '@emisar/protocol';
import {
  type AuditEventBody,
  chainHash,
  EXPORTED_FIELD_KINDS,
  EXPORTED_FIELDS,
  type ExportedField,
} from './chain.js';
import { type AuditCheckpoint, checkpointMessage } from './checkpoint-message.js';
import {
  EXPORT_HEAD_TYPE,
  exportHeadSignedBy,
  isUnfiltered,
  parseExportHead,
  type SignedExportHead,
} from './export-head.js';
import { EXPORTED_EVENT_TYPE } from './query.js';
import type { SeqRange } from './seq-ranges.js';
import { auditKeyId, type PublishedAuditKey, parseAuditPublicKey, sameKey } from './signing-key.js';

/** What `GET /api/audit/checkpoints` returns; `verify-export --checkpoints` reads it. */
export interface CheckpointsDocument {
  algorithm: 'Ed25519';
  /** Absent in documents saved before keys had ids. */
  key_id?: PublishedAuditKey['key_id'];
  public_key: string;
  checkpoints: AuditCheckpoint[];
}

export interface VerifyOptions {
  /**
   * The server's public key, pinned by the verifier (never taken from the
   * file): head statements and checkpoints must be signed by it.
   */
  publicKey: KeyObject;
  /**
   * Accept responses the server says were filtered (`event_type`, `since`):
   * their lines and links verify, but nothing proves no matching event is
   * missing. An unfiltered response is held to completeness either way.
   */
  filtered: boolean;
  checkpoints?: CheckpointsDocument;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Lines outside the chain (`audit.exported`), checked against their own hash only. */
  offChain: number;
  /** Pieces of consecutive seqs (1 for a complete export). */
  pieces: number;
  /** Signed head statements read: one per response of `GET /api/audit`. */
  heads: number;
  /** The last head statement's chain head and when it was signed. */
  head: { seq: number; signedAt: string } | null;
  checkpointsMatched: number;
  checkpointsNotCovered: number;
  /** The first problems found (at most MAX_PROBLEMS), each naming a line. */
  problems: string[];
}

const MAX_PROBLEMS = 20;
/** Gaps a response may hold before the rest are not tracked (an honest one has one per retention range). */
const MAX_GAPS = 10_000;
const MAX_EVENT_TYPES = 1000;
const HEX64 = /^[0-9a-f]{64}$/;

const FIELD_CHECKS: Record<
  (typeof EXPORTED_FIELD_KINDS)[ExportedField],
  (value: unknown) => boolean
> = {
  seq: (v) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0),
  text: (v) => typeof v === 'string',
  'text?': (v) => v === null || typeof v === 'string',
  'boolean?': (v) => v === null || typeof v === 'boolean',
  object: (v) => isJsonObject(v),
  hash: (v) => typeof v === 'string' && HEX64.test(v),
  'hash?': (v) => v === null || (typeof v === 'string' && HEX64.test(v)),
};

interface Gap {
  first: number;
  last: number;
  /** The line after the gap. */
  where: string;
}

/** The lines of one response, summed up until its head statement arrives. */
interface Response {
  firstLine: number | null;
  firstSeq: number | null;
  last: { seq: number } | null;
  gaps: Gap[];
  gapsOverflowed: boolean;
  eventTypes: Set<string>;
  earliest: string | null;
  offChain: number;
}

const newResponse = (): Response => ({
  firstLine: null,
  firstSeq: null,
  last: null,
  gaps: [],
  gapsOverflowed: false,
  eventTypes: new Set(),
  earliest: null,
  offChain: 0,
});

/**
 * Verifies an NDJSON audit export offline, as one or more responses of
 * `GET /api/audit`, each ending in its signed head statement: every line's
 * own hash; the link from each chain line to the one before when their seqs
 * are consecutive; each statement's signature under the pinned key; that an
 * unfiltered response holds every seq in the range it covers except those the
 * retention sweep removed (so a removed first line, last line or everything
 * fails) and ends at the signed head; consecutive responses leave nothing out;
 * and, given signed checkpoints, that each one verifies with the pinned key and
 * agrees with the exported line at its seq and with the head.
 */
export async function verifyAuditExport(
  lines: AsyncIterable<string> | Iterable<string>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    events: 0,
    firstSeq: null,
    lastSeq: null,
    offChain: 0,
    pieces: 0,
    heads: 0,
    head: null,
    checkpointsMatched: 0,
    checkpointsNotCovered: 0,
    problems: [],
  };
  const problem = (text: string) => {
    report.ok = false;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(text);
  };

  const signed = options.checkpoints
    ? checkedCheckpoints(options.checkpoints, options.publicKey, problem)
    : [];
  const wanted = new Map<number, AuditCheckpoint[]>();
  let accountId: string | null = null;
  const belongs = (id: string, where: string) => {
    if (accountId === null) {
      accountId = id;
      for (const c of signed.filter((c) => c.account_id === accountId)) {
        wanted.set(c.seq, [...(wanted.get(c.seq) ?? []), c]);
      }
    } else if (id !== accountId) {
      problem(`${where}: belongs to another account`);
    }
  };
  let previous: { seq: number; hash: string; where: string } | null = null;
  let response = newResponse();
  let lastHead: SignedExportHead | null = null;
  let filteredRefused = false;
  let lineNo = 0;

  const closeResponse = (head: SignedExportHead, where: string) => {
    report.heads += 1;
    belongs(head.account_id, where);
    const holds = checkHeadSignature(head, options.publicKey, where, problem);
    if (holds) {
      if (lastHead && isBefore(lastHead.through, head.after)) {
        problem(
          `${where}: this response starts after seq ${head.after.seq}, the one before covered up to seq ${lastHead.through.seq}: what lies between is not in the file`,
        );
      }
      if (isUnfiltered(head)) checkComplete(response, head, where, problem);
      else if (!options.filtered) {
        if (!filteredRefused) {
          problem(
            `${where}: the export was filtered (${describeFilter(head)}); verify it with --filtered`,
          );
        }
        filteredRefused = true;
      } else checkFiltered(response, head, where, problem);
      if (previous?.seq === head.head_seq && previous.hash !== head.head_hash) {
        problem(`${previous.where}: differs from the signed head at seq ${head.head_seq}`);
      }
      lastHead = head;
      report.head = { seq: head.head_seq, signedAt: head.signed_at };
    }
    response = newResponse();
  };

  for await (const raw of lines) {
    lineNo += 1;
    if (raw.trim() === '') continue;
    const parsed = parseLine(raw);
    if (typeof parsed === 'string') {
      problem(`line ${lineNo}: ${parsed}`);
      continue;
    }
    if (parsed.kind === 'head') {
      closeResponse(parsed.head, `line ${lineNo} (head statement)`);
      continue;
    }
    const { event } = parsed;
    report.events += 1;
    response.firstLine ??= lineNo;
    const where = `line ${lineNo} (seq ${event.seq ?? 'null'})`;
    belongs(event.account_id, where);
    const { hash, ...body } = event;
    if (chainHash(body) !== hash) problem(`${where}: the hash does not match the line's content`);
    if (response.eventTypes.size < MAX_EVENT_TYPES) response.eventTypes.add(event.event_type);
    if (response.earliest === null || event.occurred_at < response.earliest) {
      response.earliest = event.occurred_at;
    }

    if (event.seq === null) {
      report.offChain += 1;
      response.offChain += 1;
      if (event.prev_hash !== null) problem(`${where}: an event outside the chain has a prev_hash`);
      continue;
    }
    const seq = event.seq;
    if (previous === null) {
      report.firstSeq = seq;
      report.pieces = 1;
      if (seq === 1 && event.prev_hash !== null)
        problem(`${where}: the first event links to a predecessor`);
    } else if (seq === previous.seq + 1) {
      if (event.prev_hash !== previous.hash) {
        problem(`${where}: prev_hash does not link to seq ${previous.seq}`);
      }
    } else if (seq <= previous.seq) {
      problem(`${where}: out of order after seq ${previous.seq}`);
    } else {
      report.pieces += 1;
      if (response.firstSeq !== null) {
        if (response.gaps.length < MAX_GAPS) {
          response.gaps.push({ first: previous.seq + 1, last: seq - 1, where });
        } else response.gapsOverflowed = true;
      }
    }
    if (response.firstSeq === null && (previous === null || seq > previous.seq)) {
      response.firstSeq = seq;
    }
    for (const checkpoint of wanted.get(seq) ?? []) {
      wanted.delete(seq);
      if (checkpoint.hash === hash) report.checkpointsMatched += 1;
      else problem(`${where}: differs from the signed checkpoint at seq ${seq}`);
    }
    if (seq > (previous?.seq ?? 0)) {
      previous = { seq, hash, where };
      response.last = previous;
    }
    report.lastSeq = previous?.seq ?? report.lastSeq;
  }

  if (response.firstLine !== null) {
    problem(
      `lines ${response.firstLine}–${lineNo} are not followed by a signed head statement: the download was cut short, or the file was edited`,
    );
  } else if (report.heads === 0) {
    problem(
      'no signed head statement: every response of GET /api/audit ends with one (the file was edited, or made by an older server)',
    );
  }
  const headSeq = (lastHead as SignedExportHead | null)?.head_seq;
  for (const [seq] of wanted) {
    if (headSeq !== undefined && seq > headSeq) {
      problem(
        `the checkpoint at seq ${seq} is past the signed head (seq ${headSeq}): the chain was cut back, or the export predates the checkpoint`,
      );
    } else {
      report.checkpointsNotCovered += 1;
    }
  }
  return report;
}

/**
 * An unfiltered response holds every seq in (after, through] but those
 * retention removed: before its first line, between lines, and after its last.
 */
function checkComplete(
  response: Response,
  head: SignedExportHead,
  where: string,
  problem: (text: string) => void,
): void {
  const removed = head.removed_by_retention;
  const from = head.after.seq + 1;
  const to = head.through.seq;
  if (response.offChain > 0) {
    problem(`${where}: the response holds events outside the chain though it was not filtered`);
  }
  if (response.firstSeq === null || response.last === null) {
    const lost = unexplained(removed, from, to);
    if (lost) problem(`${where}: seqs ${lost} are missing, and retention did not remove them`);
    return;
  }
  if (response.firstSeq < from || response.last.seq > to) {
    problem(`${where}: the response holds seqs outside the range it covers (${from}–${to})`);
  }
  const before = unexplained(removed, from, response.firstSeq - 1);
  if (before) {
    problem(
      `${where}: seqs ${before} before the first exported seq (${response.firstSeq}) are missing, and retention did not remove them`,
    );
  }
  for (const gap of response.gaps) {
    const lost = unexplained(removed, gap.first, gap.last);
    if (lost) problem(`${gap.where}: seqs ${lost} are missing`);
  }
  if (response.gapsOverflowed) {
    problem(`${where}: more than ${MAX_GAPS} gaps, more than retention can explain`);
  }
  const after = unexplained(removed, response.last.seq + 1, to);
  if (after) {
    problem(
      `${where}: seqs ${after} after the last exported seq are missing (the signed head is seq ${head.head_seq})`,
    );
  }
}

/** A filtered response: its lines match the filter and lie in its range. */
function checkFiltered(
  response: Response,
  head: SignedExportHead,
  where: string,
  problem: (text: string) => void,
): void {
  const { since, event_types: types } = head.filter;
  if (response.firstSeq !== null && response.firstSeq <= head.after.seq) {
    problem(`${where}: the response holds seqs before the range it covers`);
  }
  if (response.last && response.last.seq > head.through.seq) {
    problem(`${where}: the response holds seqs after the range it covers`);
  }
  const stray = types ? [...response.eventTypes].find((t) => !types.includes(t)) : undefined;
  if (stray) problem(`${where}: the response holds ${stray} events, which its filter leaves out`);
  else if (response.offChain > 0 && !types?.includes(EXPORTED_EVENT_TYPE)) {
    problem(`${where}: the response holds events outside the chain it did not ask for`);
  }
  if (since !== null && response.earliest !== null && response.earliest < since) {
    problem(`${where}: the response holds events before its since (${since})`);
  }
}

/**
 * The first stretch of `first`–`last` (as `a–b`) that the retention ranges do
 * not cover; null when they cover it all (or it is empty).
 */
function unexplained(removed: readonly SeqRange[], first: number, last: number): string | null {
  let from = first;
  for (const [a, b] of removed) {
    if (a <= from && from <= b) from = b + 1;
  }
  if (from > last) return null;
  const next = removed.find(([a]) => a > from)?.[0];
  return `${from}–${next === undefined ? last : Math.min(last, next - 1)}`;
}

function describeFilter(head: SignedExportHead): string {
  const parts: string[] = [];
  if (head.filter.event_types) parts.push(`event_type=${head.filter.event_types.join(',')}`);
  if (head.filter.since) parts.push(`since=${head.filter.since}`);
  return parts.join(', ');
}

const isBefore = (a: { seq: number; sub: number }, b: { seq: number; sub: number }) =>
  a.seq < b.seq || (a.seq === b.seq && a.sub < b.sub);

function checkHeadSignature(
  head: SignedExportHead,
  publicKey: KeyObject,
  where: string,
  problem: (text: string) => void,
): boolean {
  const pinned = auditKeyId(publicKey);
  if (head.key_id !== pinned) {
    problem(`${where}: signed by another key (key id ${head.key_id}; pinned ${pinned})`);
    return false;
  }
  if (!exportHeadSignedBy(head, publicKey)) {
    problem(`${where}: the signature does not verify`);
    return false;
  }
  return true;
}

/**
 * The signed checkpoints whose signatures hold under the pinned key; the
 * others are problems. A document published with another key is refused whole.
 */
function checkedCheckpoints(
  document: CheckpointsDocument,
  publicKey: KeyObject,
  problem: (text: string) => void,
): AuditCheckpoint[] {
  const pinned = auditKeyId(publicKey);
  let theirs: KeyObject;
  try {
    theirs = parseAuditPublicKey(document.public_key);
  } catch {
    problem('checkpoints: public_key is not an Ed25519 public key');
    return [];
  }
  if (!sameKey(theirs, publicKey)) {
    problem(`checkpoints: signed by another key (key id ${auditKeyId(theirs)}; pinned ${pinned})`);
    return [];
  }
  const valid: AuditCheckpoint[] = [];
  for (const checkpoint of document.checkpoints ?? []) {
    const signature = Buffer.from(String(checkpoint.signature), 'base64');
    let holds = false;
    try {
      holds = verifySignature(null, checkpointMessage(checkpoint), publicKey, signature);
    } catch {
      holds = false;
    }
    if (holds) valid.push(checkpoint);
    else problem(`checkpoint at seq ${checkpoint.seq}: the signature does not verify`);
  }
  return valid;
}

type ParsedEvent = AuditEventBody & { hash: string };

/** The event or head statement on one line, or what is wrong with it. */
function parseLine(
  raw: string,
): { kind: 'event'; event: ParsedEvent } | { kind: 'head'; head: SignedExportHead } | string {
  let value: unknown;
  try {
    value = parseStrictJson(raw);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (!isJsonObject(value)) return 'not a JSON object';
  if (Object.hasOwn(value, 'type')) {
    if (value.type !== EXPORT_HEAD_TYPE) return 'neither an event nor a head statement';
    const head = parseExportHead(value);
    return typeof head === 'string' ? `head statement: ${head}` : { kind: 'head', head };
  }
  const unknown = Object.keys(value).find((k) => !Object.hasOwn(EXPORTED_FIELD_KINDS, k));
  if (unknown) return `unexpected field "${unknown.slice(0, 40)}"`;
  for (const field of EXPORTED_FIELDS) {
    if (!Object.hasOwn(value, field)) return `missing field "${field}"`;
    if (!FIELD_CHECKS[EXPORTED_FIELD_KINDS[field]](value[field])) {
      return `${field} is not ${EXPORTED_FIELD_KINDS[field]}`;
    }
  }
  return { kind: 'event', event: value as unknown as ParsedEvent & { payload: JsonObject } };
}
