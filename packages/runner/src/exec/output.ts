import { createHash, type Hash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { PROGRESS_CHUNK_MAX_BYTES } from '@emisar/protocol';

/** A long line goes on in pieces of this size: each fits one progress frame. */
export const PIECE_BYTES = PROGRESS_CHUNK_MAX_BYTES;

/** The streaming redactor the packs package builds for a run (one per stream). */
export interface StreamRedactor {
  push(chunk: string): string;
  end(): string;
}

export interface StreamSummary {
  /** Of the redacted, normalised stream. */
  sha256: string;
  bytes: number;
  truncated: boolean;
  /** Raw bytes the program wrote, and those dropped past the cap (counted and hashed only). */
  rawBytes: number;
  droppedBytes: number;
  droppedSha256: string | null;
  preview: string;
}

export interface CaptureOptions {
  maxRawBytes: number;
  previewBytes: number;
  redactor: StreamRedactor;
  /** Keep the whole redacted text (for a json parser). */
  keepText: boolean;
  /** Each redacted, valid UTF-8 piece (≤ 64 KiB), in order. */
  emit: (text: string) => void;
}

/**
 * One output stream of a run: raw cap first (bytes past it are counted and hashed,
 * then dropped), then lines (long lines in 64 KiB pieces), UTF-8 decoding that
 * turns invalid sequences into U+FFFD, and streaming redaction. Hashes, counts,
 * preview and emitted pieces all describe the same redacted byte stream.
 */
export class StreamCapture {
  private rawBytes = 0;
  private dropped = 0;
  private droppedHash: Hash | undefined;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private preview = '';
  private previewBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly decoder = new StringDecoder('utf8');
  private kept: string[] = [];

  constructor(private readonly options: CaptureOptions) {}

  push(chunk: Buffer): void {
    const room = Math.max(0, this.options.maxRawBytes - this.rawBytes);
    this.rawBytes += chunk.length;
    if (chunk.length > room) {
      const over = chunk.subarray(room);
      this.dropped += over.length;
      this.droppedHash ??= createHash('sha256');
      this.droppedHash.update(over);
      chunk = chunk.subarray(0, room);
    }
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.pending.push(chunk.subarray(start, nl + 1));
      this.pendingBytes += nl + 1 - start;
      this.flushPending();
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    while (this.pendingBytes >= PIECE_BYTES) {
      const all = Buffer.concat(this.pending);
      this.pending = [all.subarray(PIECE_BYTES)];
      this.pendingBytes = all.length - PIECE_BYTES;
      this.feed(all.subarray(0, PIECE_BYTES));
    }
  }

  end(): StreamSummary {
    this.flushPending();
    this.out(this.options.redactor.push(this.decoder.end()));
    this.out(this.options.redactor.end());
    return {
      sha256: this.hash.digest('hex'),
      bytes: this.bytes,
      truncated: this.dropped > 0,
      rawBytes: this.rawBytes,
      droppedBytes: this.dropped,
      droppedSha256: this.droppedHash?.digest('hex') ?? null,
      preview: this.preview,
    };
  }

  /** The whole redacted text (only when keepText was set). */
  text(): string {
    return this.kept.join('');
  }

  private flushPending(): void {
    if (this.pendingBytes === 0) return;
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.feed(line);
  }

  private feed(raw: Buffer): void {
    this.out(this.options.redactor.push(this.decoder.write(raw)));
  }

  private out(text: string): void {
    if (!text) return;
    const bytes = Buffer.from(text, 'utf8');
    this.hash.update(bytes);
    this.bytes += bytes.length;
    if (this.options.keepText) this.kept.push(text);
    if (this.previewBytes < this.options.previewBytes) {
      const take = utf8Prefix(bytes, this.options.previewBytes - this.previewBytes);
      this.preview += take.toString('utf8');
      this.previewBytes += take.length;
    }
    for (const piece of utf8Pieces(bytes, PIECE_BYTES)) this.options.emit(piece);
  }
}

/** The longest prefix of at most max bytes that ends on a character boundary. */
export function utf8Prefix(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** Splits valid UTF-8 into strings of at most max bytes, never inside a character. */
export function utf8Pieces(bytes: Buffer, max: number): string[] {
  if (bytes.length <= max) return [bytes.toString('utf8')];
  const pieces: string[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const piece = utf8Prefix(rest, max);
    pieces.push(piece.toString('utf8'));
    rest = rest.subarray(piece.length);
  }
  return pieces;
}
