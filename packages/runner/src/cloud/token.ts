import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { errorCode, writeFileAtomic } from '../fs-util.js';

export interface TokenFile {
  token: string;
  key_fp: string;
  refresh_after: string;
}

export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

/** First 8 bytes of SHA-256 of the enrollment key, hex: tells a changed key apart. */
export function keyFingerprint(enrollmentKey: string): string {
  return createHash('sha256').update(enrollmentKey).digest('hex').slice(0, 16);
}

/**
 * Reads the token file. A symlink, a file group/other can read, or a malformed
 * one is an error (start-up fails: never silently re-register over it).
 */
export async function readTokenFile(path: string): Promise<TokenFile | undefined> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const advice = `fix or remove ${path} (a new token needs the enrollment key)`;
  if (info.isSymbolicLink()) throw new TokenFileError(`token file ${path} is a symlink; ${advice}`);
  if (!info.isFile())
    throw new TokenFileError(`token file ${path} is not a regular file; ${advice}`);
  if (info.mode & 0o077) {
    throw new TokenFileError(
      `token file ${path} is readable by group or others; run chmod 600 ${path}`,
    );
  }
  let parsed: Partial<TokenFile>;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new TokenFileError(`token file ${path} is malformed; ${advice}`);
  }
  if (
    typeof parsed?.token !== 'string' ||
    !parsed.token ||
    typeof parsed.key_fp !== 'string' ||
    typeof parsed.refresh_after !== 'string' ||
    Number.isNaN(Date.parse(parsed.refresh_after))
  ) {
    throw new TokenFileError(`token file ${path} is malformed; ${advice}`);
  }
  return { token: parsed.token, key_fp: parsed.key_fp, refresh_after: parsed.refresh_after };
}

export async function writeTokenFile(path: string, token: TokenFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(token)}\n`, 0o600);
}
