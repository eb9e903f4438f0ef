import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Lexical clean (Go filepath.Clean semantics on POSIX paths). */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  return path.posix.normalize(p).replace(/(.)\/+$/, '$1');
}

/** Whole-component prefix: `/var/log` covers `/var/log` and `/var/log/x`, never `/var/logfoo`. */
export function isUnder(candidate: string, prefix: string): boolean {
  const base = cleanPath(prefix);
  if (base === '/') return candidate.startsWith('/');
  return candidate === base || candidate.startsWith(`${base}/`);
}

export class UnresolvablePathError extends Error {}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Resolves every symlink in an absolute, cleaned path. When the leaf (or a
 * tail of components) does not exist, resolves the deepest existing parent
 * and appends the rest. A dangling symlink is refused: whatever later
 * follows it could land anywhere.
 */
export function resolveExistingPrefix(p: string): string {
  try {
    return realpathSync(p);
  } catch (err) {
    if (!isMissing(err)) throw new UnresolvablePathError((err as Error).message);
  }
  try {
    lstatSync(p);
    throw new UnresolvablePathError('dangling symbolic link');
  } catch (err) {
    if (err instanceof UnresolvablePathError) throw err;
    if (!isMissing(err)) throw new UnresolvablePathError((err as Error).message);
  }
  if (p === '/') return p;
  const parent = resolveExistingPrefix(path.posix.dirname(p));
  return path.posix.join(parent, path.posix.basename(p));
}
