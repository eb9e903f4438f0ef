import type { KeyObject } from 'node:crypto';
import { chainHash } from './chain.js';
import type { AuditCheckpoint, CheckpointsDocument } from './checkpoint-message.js';
import { isUnfiltered, type SignedExportHead } from './export-head.js';
import { type ParsedEvent, parseLine } from './verify-line.js';
import {
  checkComplete,
  checkFiltered,
  describeFilter,
  MAX_EVENT_TYPES,
  MAX_GAPS,
  newResponse,
} from './verify-response.js';
import { checkedCheckpoints, checkHeadSignature } from './verify-signatures.js';

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
  const verifier = new ExportVerifier(options);
  for await (const raw of lines) verifier.line(raw);
  return verifier.finish();
}

/** The state of one pass over an export, line by line. */
class ExportVerifier {
  readonly report: VerifyReport = {
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
  /** Verified checkpoints of the export's account not yet met, by seq. */
  private readonly wanted = new Map<number, AuditCheckpoint[]>();
  private readonly signed: AuditCheckpoint[];
  private accountId: string | null = null;
  /** The highest chain line so far. */
  private previous: { seq: number; hash: string; where: string } | null = null;
  private response = newResponse();
  private lastHead: SignedExportHead | null = null;
  private filteredRefused = false;
  private lineNo = 0;

  constructor(private readonly options: VerifyOptions) {
    this.signed = options.checkpoints
      ? checkedCheckpoints(options.checkpoints, options.publicKey, this.problem)
      : [];
  }

  private readonly problem = (text: string): void => {
    this.report.ok = false;
    if (this.report.problems.length < MAX_PROBLEMS) this.report.problems.push(text);
  };

  /** The first account seen is the export's; its checkpoints become wanted. */
  private belongs(id: string, where: string): void {
    if (this.accountId === null) {
      this.accountId = id;
      for (const c of this.signed.filter((c) => c.account_id === id)) {
        this.wanted.set(c.seq, [...(this.wanted.get(c.seq) ?? []), c]);
      }
    } else if (id !== this.accountId) {
      this.problem(`${where}: belongs to another account`);
    }
  }

  line(raw: string): void {
    this.lineNo += 1;
    if (raw.trim() === '') return;
    const parsed = parseLine(raw);
    if (typeof parsed === 'string') this.problem(`line ${this.lineNo}: ${parsed}`);
    else if (parsed.kind === 'head') {
      this.closeResponse(parsed.head, `line ${this.lineNo} (head statement)`);
    } else this.event(parsed.event);
  }

  /** A head statement ends a response: its signature, then what the response held against it. */
  private closeResponse(head: SignedExportHead, where: string): void {
    const { problem, previous, lastHead } = this;
    this.report.heads += 1;
    this.belongs(head.account_id, where);
    if (checkHeadSignature(head, this.options.publicKey, where, problem)) {
      if (lastHead && isBefore(lastHead.through, head.after)) {
        problem(
          `${where}: this response starts after seq ${head.after.seq}, the one before covered up to seq ${lastHead.through.seq}: what lies between is not in the file`,
        );
      }
      if (isUnfiltered(head)) checkComplete(this.response, head, where, problem);
      else if (!this.options.filtered) {
        if (!this.filteredRefused) {
          problem(
            `${where}: the export was filtered (${describeFilter(head)}); verify it with --filtered`,
          );
        }
        this.filteredRefused = true;
      } else checkFiltered(this.response, head, where, problem);
      if (previous?.seq === head.head_seq && previous.hash !== head.head_hash) {
        problem(`${previous.where}: differs from the signed head at seq ${head.head_seq}`);
      }
      this.lastHead = head;
      this.report.head = { seq: head.head_seq, signedAt: head.signed_at };
    }
    this.response = newResponse();
  }

  /** An event line: its own hash, what the response notes of it, then its place in the chain. */
  private event(event: ParsedEvent): void {
    const { report, response } = this;
    report.events += 1;
    response.firstLine ??= this.lineNo;
    const where = `line ${this.lineNo} (seq ${event.seq ?? 'null'})`;
    this.belongs(event.account_id, where);
    const { hash, ...body } = event;
    if (chainHash(body) !== hash) {
      this.problem(`${where}: the hash does not match the line's content`);
    }
    if (response.eventTypes.size < MAX_EVENT_TYPES) response.eventTypes.add(event.event_type);
    if (response.earliest === null || event.occurred_at < response.earliest) {
      response.earliest = event.occurred_at;
    }
    if (event.seq === null) {
      report.offChain += 1;
      response.offChain += 1;
      if (event.prev_hash !== null) {
        this.problem(`${where}: an event outside the chain has a prev_hash`);
      }
      return;
    }
    this.chainLine(event.seq, event.prev_hash, hash, where);
  }

  /** A chain line: its link to the one before, gaps, and the checkpoint at its seq. */
  private chainLine(seq: number, prevHash: string | null, hash: string, where: string): void {
    const { report, response, previous, problem } = this;
    if (previous === null) {
      report.firstSeq = seq;
      report.pieces = 1;
      if (seq === 1 && prevHash !== null)
        problem(`${where}: the first event links to a predecessor`);
    } else if (seq === previous.seq + 1) {
      if (prevHash !== previous.hash) {
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
    for (const checkpoint of this.wanted.get(seq) ?? []) {
      this.wanted.delete(seq);
      if (checkpoint.hash === hash) report.checkpointsMatched += 1;
      else problem(`${where}: differs from the signed checkpoint at seq ${seq}`);
    }
    if (seq > (previous?.seq ?? 0)) {
      this.previous = { seq, hash, where };
      response.last = this.previous;
    }
    report.lastSeq = this.previous?.seq ?? report.lastSeq;
  }

  /** After the last line: a response left open, no head at all, checkpoints never met. */
  finish(): VerifyReport {
    const { problem } = this;
    if (this.response.firstLine !== null) {
      problem(
        `lines ${this.response.firstLine}–${this.lineNo} are not followed by a signed head statement: the download was cut short, or the file was edited`,
      );
    } else if (this.report.heads === 0) {
      problem(
        'no signed head statement: every response of GET /api/audit ends with one (the file was edited, or made by an older server)',
      );
    }
    const headSeq = this.lastHead?.head_seq;
    for (const [seq] of this.wanted) {
      if (headSeq !== undefined && seq > headSeq) {
        problem(
          `the checkpoint at seq ${seq} is past the signed head (seq ${headSeq}): the chain was cut back, or the export predates the checkpoint`,
        );
      } else {
        this.report.checkpointsNotCovered += 1;
      }
    }
    return this.report;
  }
}

const isBefore = (a: { seq: number; sub: number }, b: { seq: number; sub: number }) =>
  a.seq < b.seq || (a.seq === b.seq && a.sub < b.sub);
