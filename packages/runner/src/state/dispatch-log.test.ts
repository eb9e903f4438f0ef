import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DispatchLog, emptyOutputCounts, type StoredResult } from './dispatch-log.js';

const result = (id: string): StoredResult => ({
  ...emptyOutputCounts(),
  request_id: id,
  status: 'success',
  exit_code: 0,
  duration_ms: 3,
});

async function logPath() {
  return join(await mkdtemp(join(tmpdir(), 'emisar-dlog-')), 'dispatches.jsonl');
}

describe('dispatch log', () => {
  it('persists reserve, complete and acknowledge across reopen, mode 0600', async () => {
    const path = await logPath();
    const { log } = await DispatchLog.open(path);
    expect(await log.reserve('req_a', 'd1')).toBe('reserved');
    await log.complete('req_a', 'd1', result('req_a'));
    expect(await log.reserve('req_b', 'd2')).toBe('reserved');
    await log.complete('req_b', 'd2', result('req_b'));
    expect(await log.acknowledge('req_a')).toBe(true);
    expect(await log.acknowledge('req_zzz')).toBe(false);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const reopened = await DispatchLog.open(path);
    expect(reopened.outcomeUnknown).toEqual([]);
    expect(reopened.log.get('req_a')?.state).toBe('acknowledged');
    expect(reopened.log.unacknowledged().map((e) => e.request_id)).toEqual(['req_b']);
  });

  it('turns an entry left reserved into failed/execution_outcome_unknown, durably', async () => {
    const path = await logPath();
    const { log } = await DispatchLog.open(path);
    await log.reserve('req_crash', 'd');
    const first = await DispatchLog.open(path);
    expect(first.outcomeUnknown.map((e) => e.request_id)).toEqual(['req_crash']);
    expect(first.log.get('req_crash')?.result).toMatchObject({
      status: 'failed',
      reason: 'execution_outcome_unknown',
    });
    const second = await DispatchLog.open(path);
    expect(second.outcomeUnknown).toEqual([]);
    expect(second.log.get('req_crash')?.state).toBe('completed');
  });

  it('evicts only acknowledged entries and reports full otherwise', async () => {
    const path = await logPath();
    const { log } = await DispatchLog.open(path, 3);
    for (const id of ['r1', 'r2', 'r3']) {
      await log.reserve(id, 'd');
      await log.complete(id, 'd', result(id));
    }
    expect(await log.reserve('r4', 'd')).toBe('full');
    await log.acknowledge('r2');
    expect(await log.reserve('r4', 'd')).toBe('reserved');
    expect(log.get('r2')).toBeUndefined();
    expect(log.get('r1')?.state).toBe('completed');
    expect(await log.reserve('r5', 'd')).toBe('full');
  });

  it('refuses a corrupt log with quarantine advice and leaves it untouched', async () => {
    const path = await logPath();
    await writeFile(path, '{"request_id":"a","dispatch_sha256":"d","state":"reserved"}\n{oops\n');
    await expect(DispatchLog.open(path)).rejects.toThrow(/corrupt at line 2.*mv .*corrupt/);
    expect(await readFile(path, 'utf8')).toContain('{oops');
  });
});
