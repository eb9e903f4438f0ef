import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

/** Resolves a bare name on PATH (or checks an absolute path): an executable regular file, or undefined. */
export async function findExecutable(file: string, pathEnv: string): Promise<string | undefined> {
  const candidates = isAbsolute(file)
    ? [file]
    : file.includes('/')
      ? []
      : pathEnv
          .split(delimiter)
          .filter((dir) => isAbsolute(dir))
          .map((dir) => join(dir, file));
  for (const candidate of candidates) {
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
