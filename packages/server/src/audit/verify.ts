import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { isJsonObject, type JsonObject, parseStrictJson } from '@emisar/protocol';
import {
  type AuditEventBody,
  chainHash,
  EXPORTED_FIELD_KINDS,
  EXPORTED_FIELDS,
  type ExportedField,
} from './chain.js';
import { type AuditCheckpoint, checkpointMessage } from './checkpoint-message.js';

/** What `GET /api/audit/checkpoints` returns; `verify-export --checkpoints` reads it. */
export interface CheckpointsDocument {
  algorithm: 'Ed25519';
  public_key: string;
  checkpoints: AuditCheckpoint[];
}

export interface VerifyOptions {
  /** The export was filtered or retention-trimmed: gaps are allowed, the pieces verify. */
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
  checkpointsMatched: number;
  checkpointsNotCovered: number;
  /** The first problems found (at most MAX_PROBLEMS), each naming a line. */
  problems: string[];
}

const MAX_PROBLEMS = 20;
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

/**
 * Verifies an NDJSON audit export offline: every line's own hash; the link
 * from each chain line to the one before when their seqs are consecutive; no
 * gap, reordering or off-chain line unless `filtered`; and, given signed
 * checkpoints, that each one's signature holds and the exported line at its
 * seq carries its hash.
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
    checkpointsMatched: 0,
    checkpointsNotCovered: 0,
    problems: [],
  };
  const problem = (text: string) => {
    report.ok = false;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(text);
  };

  const signed = options.checkpoints ? checkedCheckpoints(options.checkpoints, problem) : [];
  const wanted = new Map<number, AuditCheckpoint[]>();
  let accountId: string | null = null;
  let previous: { seq: number; hash: string } | null = null;
  let lineNo = 0;

  for await (const raw of lines) {
    lineNo += 1;
    if (raw.trim() === '') continue;
    const event = parseLine(raw);
    if (typeof event === 'string') {
      problem(`line ${lineNo}: ${event}`);
      continue;
    }
    report.events += 1;
    const where = `line ${lineNo} (seq ${event.seq ?? 'null'})`;
    if (accountId === null) {
      accountId = event.account_id;
      for (const c of signed.filter((c) => c.account_id === accountId)) {
        wanted.set(c.seq, [...(wanted.get(c.seq) ?? []), c]);
      }
    } else if (event.account_id !== accountId) {
      problem(`${where}: belongs to another account`);
    }
    const { hash, ...body } = event;
    if (chainHash(body) !== hash) problem(`${where}: the hash does not match the line's content`);

    if (event.seq === null) {
      report.offChain += 1;
      if (event.prev_hash !== null) problem(`${where}: an event outside the chain has a prev_hash`);
      if (!options.filtered)
        problem(`${where}: an event outside the chain in an unfiltered export`);
      continue;
    }
    const seq = event.seq;
    if (previous === null) {
      report.firstSeq = seq;
      report.pieces = 1;
      if (seq === 1 && event.prev_hash !== null)
        problem(`${where}: the first event links to a predecessor`);
      if (seq > 1 && !options.filtered) {
        problem(
          `${where}: the export starts after seq 1 (lines removed, or retention-trimmed: use --filtered)`,
        );
      }
    } else if (seq === previous.seq + 1) {
      if (event.prev_hash !== previous.hash) {
        problem(`${where}: prev_hash does not link to seq ${previous.seq}`);
      }
    } else if (seq <= previous.seq) {
      problem(`${where}: out of order after seq ${previous.seq}`);
    } else {
      report.pieces += 1;
      if (!options.filtered) problem(`${where}: seqs ${previous.seq + 1}–${seq - 1} are missing`);
    }
    for (const checkpoint of wanted.get(seq) ?? []) {
      wanted.delete(seq);
      if (checkpoint.hash === hash) report.checkpointsMatched += 1;
      else problem(`${where}: differs from the signed checkpoint at seq ${seq}`);
    }
    if (seq > (previous?.seq ?? 0)) previous = { seq, hash };
    report.lastSeq = previous?.seq ?? report.lastSeq;
  }

  for (const [seq] of wanted) {
    const beyondEnd = report.lastSeq === null || seq > report.lastSeq;
    if (beyondEnd && !options.filtered) {
      problem(
        `the checkpoint at seq ${seq} is past the export's end (seq ${report.lastSeq ?? 'none'}): lines are missing at the end, or the export predates the checkpoint`,
      );
    } else {
      report.checkpointsNotCovered += 1;
    }
  }
  return report;
}

/** The signed checkpoints whose signatures hold; the others are problems. */
function checkedCheckpoints(
  document: CheckpointsDocument,
  problem: (text: string) => void,
): AuditCheckpoint[] {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(document.public_key);
  } catch {
    problem('checkpoints: public_key is not a PEM public key');
    return [];
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    problem('checkpoints: public_key is not an Ed25519 key');
    return [];
  }
  const valid: AuditCheckpoint[] = [];
  for (const checkpoint of document.checkpoints ?? []) {
    const signature = Buffer.from(String(checkpoint.signature), 'base64');
    let holds = false;
    try {
      holds = verifySignature(null, checkpointMessage(checkpoint), key, signature);
    } catch {
      holds = false;
    }
    if (holds) valid.push(checkpoint);
    else problem(`checkpoint at seq ${checkpoint.seq}: the signature does not verify`);
  }
  return valid;
}

type ParsedEvent = AuditEventBody & { hash: string };

/** The event on one line, or what is wrong with it. */
function parseLine(raw: string): ParsedEvent | string {
  let value: unknown;
  try {
    value = parseStrictJson(raw);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (!isJsonObject(value)) return 'not a JSON object';
  const unknown = Object.keys(value).find((k) => !Object.hasOwn(EXPORTED_FIELD_KINDS, k));
  if (unknown) return `unexpected field "${unknown.slice(0, 40)}"`;
  for (const field of EXPORTED_FIELDS) {
    if (!Object.hasOwn(value, field)) return `missing field "${field}"`;
    if (!FIELD_CHECKS[EXPORTED_FIELD_KINDS[field]](value[field])) {
      return `${field} is not ${EXPORTED_FIELD_KINDS[field]}`;
    }
  }
  return value as unknown as ParsedEvent & { payload: JsonObject };
}
