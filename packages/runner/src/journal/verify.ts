import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type ChainBreak, readHead, scanChain } from './chain.js';

export interface VerifyReport {
  path: string;
  ok: boolean;
  lines: number;
  head: 'ok' | 'missing' | 'malformed' | 'mismatch';
  break: ChainBreak | null;
}

/**
 * Recomputes a journal file's chain and checks it against the head file, so an
 * edited, moved or removed line is found — the last one included, through the
 * head. A privileged user who rewrites both files consistently is not detectable
 * here; the control plane's audit is the system of record.
 */
export async function verifyJournalFile(path: string): Promise<VerifyReport> {
  const head = await readHead(path);
  const scan = await scanChain(path, typeof head === 'object' ? head.lines : undefined);
  const report: VerifyReport = { path, ok: true, lines: scan.lines, head: 'ok', break: null };
  const fail = (b: ChainBreak, headState: VerifyReport['head'] = report.head) => ({
    ...report,
    ok: false,
    head: headState,
    break: b,
  });

  if (scan.firstBreak) return fail(scan.firstBreak);
  if (scan.partialBytes > 0) {
    return fail({
      line: scan.lines + 1,
      event_id: null,
      problem: 'the file ends with a partial line',
      expected: null,
      got: null,
    });
  }
  if (head === undefined) {
    if (scan.lines === 0) return { ...report, head: 'missing' };
    return fail(
      {
        line: scan.lines,
        event_id: null,
        problem: 'the head file is missing, so the last line cannot be checked',
        expected: null,
        got: null,
      },
      'missing',
    );
  }
  if (head === 'malformed') {
    return fail(
      {
        line: scan.lines,
        event_id: null,
        problem: 'the head file is malformed',
        expected: null,
        got: null,
      },
      'malformed',
    );
  }
  if (head.lines !== scan.lines) {
    const line = Math.min(head.lines, scan.lines) + (head.lines > scan.lines ? 1 : 0);
    return fail(
      {
        line: Math.max(line, 1),
        event_id: null,
        problem:
          head.lines > scan.lines
            ? `the head records ${head.lines} lines but the file has ${scan.lines} (lines at the end were removed)`
            : `the file has ${scan.lines} lines but the head records ${head.lines} (a crash window, or lines were appended outside the runner)`,
        expected: String(head.lines),
        got: String(scan.lines),
      },
      'mismatch',
    );
  }
  if (head.last_line_sha256 !== scan.lastLineSha256) {
    return fail(
      {
        line: scan.lines,
        event_id: null,
        problem: 'the last line does not match the head (it was edited or replaced)',
        expected: head.last_line_sha256,
        got: scan.lastLineSha256,
      },
      'mismatch',
    );
  }
  return report;
}

/** The journal and, with all, its rotated backups (`<path>.1` … newest first). */
export async function journalFiles(path: string, all: boolean): Promise<string[]> {
  if (!all) return [path];
  const dir = dirname(path);
  const name = basename(path);
  const backups = (await readdir(dir).catch(() => [] as string[]))
    .map((entry) => /^(.*)\.(\d+)$/.exec(entry))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === name)
    .map((m) => Number(m[2]))
    .sort((a, b) => a - b)
    .map((n) => join(dir, `${name}.${n}`));
  return [path, ...backups];
}
