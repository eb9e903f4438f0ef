import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode, processAlive } from '../fs-util.js';

export class LockError extends Error {
  override readonly name = 'LockError';
}

/** The PID the lock names, if that process is alive. */
export async function lockHolder(path: string): Promise<number | undefined> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isSafeInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
}

/**
 * runner.lock: one daemon per data dir; holds its PID so `pack install` and
 * friends can signal it. A lock left by a dead process is taken over.
 */
export async function acquireLock(path: string): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o640);
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
      await handle.close();
      return async () => {
        if ((await lockHolder(path)) === process.pid) await rm(path, { force: true });
      };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      const holder = await lockHolder(path);
      if (holder !== undefined) throw new LockError(`another runner (pid ${holder}) holds ${path}`);
      await rm(path, { force: true });
    }
  }
  throw new LockError(`could not take ${path}`);
}
