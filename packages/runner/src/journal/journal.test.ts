import { appendFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headPathOf } from './chain.js';
import { Journal, JournalError } from './journal.js';
import { journalFiles, verifyJournalFile } from './verify.js';

async function journalWith(count: number, maxSizeBytes = 1 << 30, maxBackups = 5) {
  const dir = await mkdtemp(join(tmpdir(), 'emisar-journal-'));
  const path = join(dir, 'events.jsonl');
  const journal = await Journal.open({ path, maxSizeBytes, maxBackups });
  for (let i = 0; i < count; i++) {
    await journal.append({ event_type: 'execution_started', action_id: `a.b${i}` });
  }
  await journal.close();
  return path;
}

const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n').slice(0, -1);
const rewrite = (path: string, ls: string[]) => writeFile(path, `${ls.join('\n')}\n`);

describe('journal', () => {
  it('chains lines and verifies clean', async () => {
    const path = await journalWith(4);
    const ls = (await lines(path)).map((l) => JSON.parse(l));
    expect(ls[0].prev_hash).toBeUndefined();
    expect(ls[1].prev_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(ls[0].event_id).toMatch(/^evt_[0-9A-Z]{26}$/);
    expect(ls.map((l) => l.event_type)).toEqual(Array(4).fill('execution_started'));
    const report = await verifyJournalFile(path);
    expect(report).toMatchObject({ ok: true, lines: 4, head: 'ok', break: null });
  });

  it.each([1, 2, 3, 4])('detects an edit to line %i of 4', async (n) => {
    const path = await journalWith(4);
    const ls = await lines(path);
    ls[n - 1] = ls[n - 1]!.replace(/a\.b\d/, 'x.yz');
    await rewrite(path, ls);
    const report = await verifyJournalFile(path);
    expect(report.ok).toBe(false);
    // An edit to line n shows as line n+1's prev_hash mismatch, or through the head for the last.
    expect(report.break?.line).toBe(n === 4 ? 4 : n + 1);
  });

  it.each([1, 2, 3, 4])('detects deleting line %i of 4', async (n) => {
    const path = await journalWith(4);
    const ls = await lines(path);
    ls.splice(n - 1, 1);
    await rewrite(path, ls);
    const report = await verifyJournalFile(path);
    expect(report.ok).toBe(false);
    expect(report.break?.line).toBe(n === 4 ? 4 : n);
  });

  it.each([
    [1, 2],
    [2, 3],
    [3, 4],
    [1, 4],
  ])('detects swapping lines %i and %i', async (a, b) => {
    const path = await journalWith(4);
    const ls = await lines(path);
    [ls[a - 1], ls[b - 1]] = [ls[b - 1]!, ls[a - 1]!];
    await rewrite(path, ls);
    const report = await verifyJournalFile(path);
    expect(report.ok).toBe(false);
    expect(report.break?.line).toBe(a);
  });

  it('truncates a partial last line on open and continues the chain', async () => {
    const path = await journalWith(2);
    await appendFile(path, '{"event_id":"evt_cut sho');
    expect((await verifyJournalFile(path)).break?.problem).toMatch(/partial/);
    const journal = await Journal.open({ path, maxSizeBytes: 1 << 30, maxBackups: 5 });
    await journal.append({ event_type: 'execution_completed' });
    await journal.close();
    expect(await verifyJournalFile(path)).toMatchObject({ ok: true, lines: 3 });
  });

  it('repairs a head that lags an intact chain (crash window) but refuses a tampered one', async () => {
    const path = await journalWith(3);
    const head = await readFile(headPathOf(path), 'utf8');
    const journal = await Journal.open({ path, maxSizeBytes: 1 << 30, maxBackups: 5 });
    await journal.append({ event_type: 'execution_completed' });
    await journal.close();
    await writeFile(headPathOf(path), head);
    await (await Journal.open({ path, maxSizeBytes: 1 << 30, maxBackups: 5 })).close();
    expect(await verifyJournalFile(path)).toMatchObject({ ok: true, lines: 4 });

    const ls = await lines(path);
    ls[3] = ls[3]!.replace('execution_completed', 'execution_failed');
    await rewrite(path, ls);
    await expect(Journal.open({ path, maxSizeBytes: 1 << 30, maxBackups: 5 })).rejects.toThrow(
      /does not match its head/,
    );
  });

  it('latches after a failed write and writes nothing more', async () => {
    const path = await journalWith(1);
    const journal = await Journal.open({ path, maxSizeBytes: 1 << 30, maxBackups: 5 });
    await mkdir(`${headPathOf(path)}.tmp`);
    await expect(journal.append({ event_type: 'execution_started' })).rejects.toThrow(JournalError);
    expect(journal.failed).toBe(true);
    const before = await readFile(path, 'utf8');
    await expect(journal.append({ event_type: 'execution_started' })).rejects.toThrow(
      /failed earlier/,
    );
    expect(await readFile(path, 'utf8')).toBe(before);
    await journal.close();
  });

  it('rotates before a write that would exceed the size, each file its own chain', async () => {
    const path = await journalWith(12, 400, 2);
    const files = await journalFiles(path, true);
    expect(files).toEqual([path, `${path}.1`, `${path}.2`]);
    for (const file of files) {
      const report = await verifyJournalFile(file);
      expect(report.ok).toBe(true);
      expect(JSON.parse((await lines(file))[0]!).prev_hash).toBeUndefined();
    }
  });
});
