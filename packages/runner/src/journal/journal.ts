import { type FileHandle, mkdir, open, rename, rm, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { newEventId } from '@emisar/protocol';
import { errorCode } from '../fs-util.js';
import { acquireLock } from '../state/lock.js';
import { headPathOf, type JournalHead, readHead, scanChain, sha256Hex } from './chain.js';

export const JOURNAL_EVENT_TYPES = [
  'validation_failed',
  'dispatch_refused',
  'execution_started',
  'execution_completed',
  'execution_failed',
  'action_cancelled',
  'action_blocked_by_admission',
] as const;
export type JournalEventType = (typeof JOURNAL_EVENT_TYPES)[number];

export interface JournalEvent {
  event_type: JournalEventType;
  [field: string]: unknown;
}

export class JournalError extends Error {
  override readonly name = 'JournalError';
}

export interface JournalOptions {
  path: string;
  maxSizeBytes: number;
  maxBackups: number;
  now?: () => Date;
}

/**
 * The local forensic trail: JSON Lines, hash-chained (each line carries the
 * SHA-256 of the previous line's exact bytes), fsynced per write, with the chain
 * head kept beside it so the last line is covered too. A failed write latches:
 * nothing more is written until restart, and callers refuse to execute.
 */
export class Journal {
  private handle: FileHandle;
  private size: number;
  private lines: number;
  private lastHash: string | null;
  private latched: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: JournalOptions,
    private readonly releaseLock: () => Promise<void>,
    handle: FileHandle,
    state: { size: number; lines: number; lastHash: string | null },
  ) {
    this.handle = handle;
    this.size = state.size;
    this.lines = state.lines;
    this.lastHash = state.lastHash;
  }

  static async open(options: JournalOptions): Promise<Journal> {
    await mkdir(dirname(options.path), { recursive: true, mode: 0o750 });
    // One writer per journal: a second one would fork the chain.
    const releaseLock = await acquireLock(`${options.path}.lock`);
    try {
      const state = await recoverFile(options.path);
      const handle = await open(options.path, 'a', 0o640);
      const journal = new Journal(options, releaseLock, handle, state);
      await journal.writeHead();
      return journal;
    } catch (error) {
      await releaseLock();
      throw error;
    }
  }

  get failed(): boolean {
    return this.latched !== undefined;
  }

  get path(): string {
    return this.options.path;
  }

  /** Appends one event; resolves once it (and the head) are on disk. Throws when latched. */
  append(event: JournalEvent): Promise<{ eventId: string }> {
    const run = this.queue.then(() => this.write(event));
    this.queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle.close().catch(() => {});
    await this.releaseLock();
  }

  private async write(event: JournalEvent): Promise<{ eventId: string }> {
    if (this.latched)
      throw new JournalError(`journal write failed earlier: ${this.latched.message}`);
    try {
      const eventId = newEventId();
      const record = {
        ...(this.lastHash === null ? {} : { prev_hash: this.lastHash }),
        event_id: eventId,
        time: (this.options.now?.() ?? new Date()).toISOString(),
        ...event,
      };
      let line = JSON.stringify(record);
      let bytes = Buffer.byteLength(line) + 1;
      if (this.size > 0 && this.size + bytes > this.options.maxSizeBytes) {
        await this.rotate();
        const { prev_hash: _dropped, ...first } = record;
        line = JSON.stringify(first);
        bytes = Buffer.byteLength(line) + 1;
      }
      await this.handle.write(`${line}\n`);
      await this.handle.datasync();
      this.size += bytes;
      this.lines += 1;
      this.lastHash = sha256Hex(line);
      await this.writeHead();
      return { eventId };
    } catch (error) {
      this.latched = error instanceof Error ? error : new Error(String(error));
      throw new JournalError(`journal write failed: ${this.latched.message}`);
    }
  }

  private async rotate(): Promise<void> {
    const { path, maxBackups } = this.options;
    await this.handle.close();
    for (let n = maxBackups; n >= 1; n--) {
      const from = n === 1 ? path : `${path}.${n - 1}`;
      const to = `${path}.${n}`;
      if (n === maxBackups) {
        await rm(to, { force: true });
        await rm(headPathOf(to), { force: true });
      }
      await renameIfExists(from, to);
      await renameIfExists(headPathOf(from), headPathOf(to));
    }
    if (maxBackups === 0) {
      await rm(path, { force: true });
      await rm(headPathOf(path), { force: true });
    }
    this.handle = await open(path, 'a', 0o640);
    this.size = 0;
    this.lines = 0;
    this.lastHash = null;
  }

  /**
   * Temp file, fsync, rename. The folder is not fsynced: after a crash the head
   * may lag the journal, which open() recognises (the head names an earlier line
   * of an intact chain) and repairs.
   */
  private async writeHead(): Promise<void> {
    const head: JournalHead = { lines: this.lines, last_line_sha256: this.lastHash };
    const target = headPathOf(this.options.path);
    const temp = `${target}.tmp`;
    const handle = await open(temp, 'w', 0o640);
    try {
      await handle.writeFile(`${JSON.stringify(head)}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/**
 * Truncates a partial last line (a write cut short by a crash), then checks the
 * chain and the head. A head that names an earlier line of an intact chain is a
 * crash window and is repaired; anything else is refused, because continuing
 * would bless an edited journal.
 */
async function recoverFile(
  path: string,
): Promise<{ size: number; lines: number; lastHash: string | null }> {
  const head = await readHead(path);
  const scan = await scanChain(path, typeof head === 'object' ? head.lines : undefined);
  if (scan.partialBytes > 0) await truncate(path, scan.completeBytes);
  const advice = `move ${path} and its .head aside to start a new chain (run emisar audit verify ${path} first)`;
  if (scan.firstBreak) {
    throw new JournalError(`journal chain broken at line ${scan.firstBreak.line}: ${advice}`);
  }
  if (head === 'malformed') throw new JournalError(`journal head file is malformed: ${advice}`);
  if (head !== undefined) {
    const consistent =
      head.lines === scan.lines
        ? head.last_line_sha256 === scan.lastLineSha256
        : head.lines < scan.lines &&
          (head.lines === 0 || scan.lineHashAt(head.lines) === head.last_line_sha256);
    if (!consistent) throw new JournalError(`journal does not match its head file: ${advice}`);
  } else if (scan.lines > 0) {
    throw new JournalError(`journal head file is missing: ${advice}`);
  }
  return { size: scan.completeBytes, lines: scan.lines, lastHash: scan.lastLineSha256 };
}
