import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cleanPath } from './paths.js';
import type { LoadedPack } from './types.js';

export const TARBALL_MAX_ENTRIES = 4000;
export const TARBALL_MAX_FILE_BYTES = 8 * 1024 * 1024;
export const TARBALL_MAX_TOTAL_BYTES = 32 * 1024 * 1024;
const BLOCK = 512;

/** A pack archive that install refuses. The message never quotes file contents. */
export class PackArchiveError extends Error {
  override readonly name = 'PackArchiveError';
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a name into ustar prefix and name fields, or undefined when it cannot fit. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100)
      return { prefix, name: rest };
  }
  return undefined;
}

function header(name: string, size: number, mode: number): Buffer {
  const split = splitName(name);
  if (split === undefined) throw new PackArchiveError(`${name}: path too long for an archive`);
  const block = Buffer.alloc(BLOCK);
  block.write(split.name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write('0', 156, 'ascii');
  block.write('ustar\u000000', 257, 'ascii');
  block.write(split.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * The pack as a gzip tar of exactly its hashed files, sorted, with mtime 0,
 * uid/gid 0 and mode 0644 (0755 for `.sh`): the same pack always gives the
 * same bytes. Reads the files from disk now; check hashPackFiles first when
 * that matters.
 */
export async function packTarball(pack: Pick<LoadedPack, 'files'>): Promise<Buffer> {
  const byName = new Map<string, string>();
  for (const file of pack.files) byName.set(cleanPath(file.entry), file.absolutePath);
  const names = [...byName.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [];
  for (const name of names) {
    const bytes = await readFile(byName.get(name)!);
    parts.push(
      header(name, bytes.length, name.endsWith('.sh') ? 0o755 : 0o644),
      bytes,
      padding(bytes.length),
    );
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function parseOctal(block: Buffer, start: number, length: number): number {
  const text = field(block, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new PackArchiveError('malformed archive header');
  return Number.parseInt(text, 8);
}

export interface ArchiveEntry {
  name: string;
  mode: number;
  bytes: Buffer;
}

/**
 * Reads a pack archive under the install rules: regular files only, relative
 * names without `..`, at most 4000 entries, 8 MiB per file, 32 MiB in all.
 */
export function readPackTarball(archive: Uint8Array): ArchiveEntry[] {
  let tar: Buffer;
  try {
    // Bounded before inflating everything: headers and padding on top of the content limit.
    tar = gunzipSync(archive, {
      maxOutputLength: TARBALL_MAX_TOTAL_BYTES + (TARBALL_MAX_ENTRIES + 2) * BLOCK * 2,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PackArchiveError(
      code === 'ERR_BUFFER_TOO_LARGE' ? 'archive exceeds 32 MiB' : 'not a gzip archive',
    );
  }
  const entries: ArchiveEntry[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (let offset = 0; offset + BLOCK <= tar.length; ) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
    if (sum !== parseOctal(block, 148, 8))
      throw new PackArchiveError('archive header checksum mismatch');
    const prefix = field(block, 345, 155);
    const name = prefix === '' ? field(block, 0, 100) : `${prefix}/${field(block, 0, 100)}`;
    const type = String.fromCharCode(block[156]!);
    const size = parseOctal(block, 124, 12);
    if (type !== '0' && type !== '\0') throw new PackArchiveError(`${name}: not a regular file`);
    if (
      name.startsWith('/') ||
      name.split('/').includes('..') ||
      cleanPath(name) !== name ||
      name === '.'
    ) {
      throw new PackArchiveError(`${name}: entry names must be clean relative paths`);
    }
    if (seen.has(name)) throw new PackArchiveError(`${name}: appears twice`);
    seen.add(name);
    if (entries.length >= TARBALL_MAX_ENTRIES)
      throw new PackArchiveError(`more than ${TARBALL_MAX_ENTRIES} entries`);
    if (size > TARBALL_MAX_FILE_BYTES) throw new PackArchiveError(`${name}: larger than 8 MiB`);
    total += size;
    if (total > TARBALL_MAX_TOTAL_BYTES) throw new PackArchiveError('archive exceeds 32 MiB');
    const start = offset + BLOCK;
    if (start + size > tar.length) throw new PackArchiveError(`${name}: truncated`);
    entries.push({
      name,
      mode: parseOctal(block, 100, 8) & 0o777,
      bytes: Buffer.from(tar.subarray(start, start + size)),
    });
    offset = start + size + padding(size).length;
  }
  return entries;
}

/** Writes a checked archive into a new directory (created; must not exist). Returns the directory. */
export async function extractPackTarball(archive: Uint8Array, dest: string): Promise<string> {
  const entries = readPackTarball(archive);
  await mkdir(dest, { recursive: false });
  for (const entry of entries) {
    const target = path.join(dest, entry.name);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, entry.bytes, { mode: entry.mode & 0o755, flag: 'wx' });
  }
  return dest;
}
