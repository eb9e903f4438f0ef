import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { LoadedPack, PackFile } from './types.js';

/** Orders entries by the bytes of their path, as the pack hash requires. */
export function sortEntries<T extends { entry: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.entry), Buffer.from(b.entry)));
}

/** `sha256:` + hex over `path ‖ 0x00 ‖ bytes ‖ 0x00` per entry, entries sorted by path bytes. */
export function hashEntries(entries: { entry: string; bytes: Uint8Array | undefined }[]): string {
  const hash = createHash('sha256');
  for (const { entry, bytes } of sortEntries(entries)) {
    hash.update(entry, 'utf8');
    // A file that has gone missing hashes under a marker no real content can produce.
    if (bytes === undefined) hash.update(Buffer.from([0x01]));
    else
      hash
        .update(Buffer.from([0x00]))
        .update(bytes)
        .update(Buffer.from([0x00]));
  }
  return `sha256:${hash.digest('hex')}`;
}

async function readOrMissing(file: PackFile): Promise<Uint8Array | undefined> {
  try {
    return await readFile(file.absolutePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
}

/**
 * Re-reads the file set a pack was loaded from and hashes it again. Added
 * files do not change the result; a changed or deleted one does.
 */
export async function hashPackFiles(pack: Pick<LoadedPack, 'files'>): Promise<string> {
  const entries = await Promise.all(
    pack.files.map(async (file) => ({ entry: file.entry, bytes: await readOrMissing(file) })),
  );
  return hashEntries(entries);
}
