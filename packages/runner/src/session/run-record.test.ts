import { describe, expect, it } from 'vitest';
import { PIECE_BYTES } from '../exec/output.js';
import { backoffDelay } from './connection.js';
import { RunRecord } from './run-record.js';

describe('RunRecord progress queue', () => {
  it('merges unsent same-stream pieces up to 64 KiB and keeps seq dense', () => {
    const record = new RunRecord('req_a', 'd');
    record.addProgress('stdout', 'a\n');
    record.addProgress('stdout', 'b\n');
    record.addProgress('stderr', 'e\n');
    record.addProgress('stdout', 'c\n');
    expect(record.takeUnsent()).toMatchObject([
      { seq: 1, stream: 'stdout', data: 'a\nb\n' },
      { seq: 2, stream: 'stderr', data: 'e\n' },
      { seq: 3, stream: 'stdout', data: 'c\n' },
    ]);
    // Sent messages are never changed: the next piece starts a new message.
    record.addProgress('stdout', 'd\n');
    expect(record.takeUnsent()).toMatchObject([{ seq: 4, data: 'd\n' }]);
    record.addProgress('stdout', 'x'.repeat(PIECE_BYTES - 1));
    record.addProgress('stdout', 'yy');
    expect(record.takeUnsent().map((m) => m.seq)).toEqual([5, 6]);
    expect(record.progressChunks).toBe(6);
    expect(record.replayAll().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('holds at most the bound, dropping the oldest and counting it', () => {
    const record = new RunRecord('req_b', 'd', 3);
    for (let i = 1; i <= 5; i++) {
      record.addProgress(i % 2 ? 'stdout' : 'stderr', `${i}\n`);
    }
    expect(record.progressChunks).toBe(5);
    expect(record.droppedChunks).toBe(2);
    expect(record.replayAll().map((m) => m.seq)).toEqual([3, 4, 5]);
  });
});

describe('backoffDelay', () => {
  it('doubles from the minimum to the maximum, with jitter in [d/2, d]', () => {
    const top = () => 1;
    const bottom = () => 0;
    expect([0, 1, 2, 3, 6, 7, 20].map((n) => backoffDelay(n, 1000, 60_000, top))).toEqual([
      1000, 2000, 4000, 8000, 60_000, 60_000, 60_000,
    ]);
    expect(backoffDelay(3, 1000, 60_000, bottom)).toBe(4000);
  });
});
