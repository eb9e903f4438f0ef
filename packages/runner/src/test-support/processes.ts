import { readFileSync } from 'node:fs';

/** True while the pid names a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls a condition with no deadline of its own (the test timeout bounds it). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  everyMs = 10,
): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}
