import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errorCode } from '../fs-util.js';

export const sha256Hex = (data: string | Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

export const headPathOf = (journalPath: string): string => `${journalPath}.head`;

/** The chain head recorded beside a journal file after every write. */
export interface JournalHead {
  lines: number;
  last_line_sha256: string | null;
}

export interface ChainBreak {
  /** 1-based line number. */
  line: number;
  event_id: string | null;
  problem: string;
  expected: string | null;
  got: string | null;
}

export interface ChainScan {
  lines: number;
  /** SHA-256 of each line's exact bytes (without the newline), in order. */
  lastLineSha256: string | null;
  /** Byte length of the file up to and including the last newline. */
  completeBytes: number;
  /** Bytes after the last newline (a partial last line). */
  partialBytes: number;
  firstBreak: ChainBreak | null;
  /** Hash of line n for a caller checking a head that lags (filled for the requested line). */
  lineHashAt: (line: number) => string | undefined;
}

/**
 * Reads a journal file once, recomputing the chain: line 1 has no prev_hash, and
 * every later line's prev_hash is the SHA-256 of the previous line's exact bytes.
 */
export async function scanChain(path: string, rememberLine?: number): Promise<ChainScan> {
  let lines = 0;
  let prevHash: string | null = null;
  let completeBytes = 0;
  let firstBreak: ChainBreak | null = null;
  let remembered: string | undefined;
  let carry: Buffer[] = [];
  let carryBytes = 0;

  const onLine = (bytes: Buffer) => {
    lines += 1;
    const hash = sha256Hex(bytes);
    if (lines === rememberLine) remembered = hash;
    if (!firstBreak) firstBreak = checkLine(bytes, lines, prevHash);
    prevHash = hash;
    completeBytes += bytes.length + 1;
  };

  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        onLine(carryBytes ? Buffer.concat([...carry, piece]) : piece);
        carry = [];
        carryBytes = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        carry.push(chunk.subarray(start));
        carryBytes += chunk.length - start;
      }
    }
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  return {
    lines,
    lastLineSha256: prevHash,
    completeBytes,
    partialBytes: carryBytes,
    firstBreak,
    lineHashAt: (line) => (line === rememberLine ? remembered : undefined),
  };
}

function checkLine(bytes: Buffer, line: number, prevHash: string | null): ChainBreak | null {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(bytes.toString('utf8'));
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error();
  } catch {
    return {
      line,
      event_id: null,
      problem: 'line is not a JSON object',
      expected: null,
      got: null,
    };
  }
  const eventId = typeof record.event_id === 'string' ? record.event_id : null;
  const got = typeof record.prev_hash === 'string' ? record.prev_hash : null;
  if (got === prevHash) return null;
  return {
    line,
    event_id: eventId,
    problem:
      prevHash === null
        ? 'the first line of a file carries a prev_hash (lines before it were removed)'
        : 'prev_hash does not match the previous line (a line was edited, removed or moved)',
    expected: prevHash,
    got,
  };
}

export async function readHead(
  journalPath: string,
): Promise<JournalHead | undefined | 'malformed'> {
  let text: string;
  try {
    text = await readFile(headPathOf(journalPath), 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const head = JSON.parse(text) as JournalHead;
    if (
      Number.isSafeInteger(head.lines) &&
      head.lines >= 0 &&
      (head.last_line_sha256 === null || /^[0-9a-f]{64}$/.test(String(head.last_line_sha256)))
    ) {
      return { lines: head.lines, last_line_sha256: head.last_line_sha256 };
    }
  } catch {}
  return 'malformed';
}
