import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { openTestStorage } from '../test-support/database.js';
import { chainHash } from './chain.js';
import { listAuditCheckpoints, signAuditCheckpoints } from './checkpoints.js';
import { createAuditExportService } from './export.js';
import { START } from './query.js';
import { insertAccount, writeEvents } from './test-support/fixtures.js';
import { type CheckpointsDocument, verifyAuditExport } from './verify.js';

let storage: Awaited<ReturnType<typeof openTestStorage>>;
const clock = new ManualClock('2026-05-01T12:00:00Z');
const { privateKey: signingKey } = generateKeyPairSync('ed25519');
let accountId: string;
let full: string[];
let checkpoints: CheckpointsDocument;

async function exportAll(): Promise<string[]> {
  const service = createAuditExportService({ db: storage.db, clock });
  const stream = await service.stream(accountId, START, { since: null, eventTypes: null });
  let text = '';
  for await (const chunk of stream.chunks) text += chunk;
  return text.split('\n').filter(Boolean);
}

beforeAll(async () => {
  storage = await openTestStorage();
  accountId = await insertAccount(storage.db);
  await writeEvents(storage.db, accountId, 12);
  expect(await signAuditCheckpoints({ db: storage.db, signingKey, clock })).toBe(1);
  full = await exportAll();
  checkpoints = await listAuditCheckpoints({ db: storage.db, signingKey, accountId });
});
afterAll(() => storage.close());

const verify = (lines: string[], filtered = false, withCheckpoints = false) =>
  verifyAuditExport(lines, { filtered, ...(withCheckpoints ? { checkpoints } : {}) });

/** Re-hashes a line after editing it, as someone rewriting the file would. */
function edit(line: string, change: (event: Record<string, unknown>) => void): string {
  const event = JSON.parse(line);
  change(event);
  const { hash: _old, ...body } = event;
  return JSON.stringify({ ...body, hash: chainHash(body) });
}

describe('verifyAuditExport', () => {
  it('passes a full export, with and without its checkpoints', async () => {
    expect(await verify(full)).toMatchObject({ ok: true, events: 12, pieces: 1, problems: [] });
    expect(await verify(full, false, true)).toMatchObject({ ok: true, checkpointsMatched: 1 });
  });

  it('fails an edited line', async () => {
    const lines = [...full];
    lines[4] = lines[4]!.replace('"person5@example.com"', '"someone@example.com"');
    const report = await verify(lines);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(["line 5 (seq 5): the hash does not match the line's content"]);
  });

  it('fails an edited line whose own hash was recomputed: the next link breaks', async () => {
    const lines = [...full];
    lines[4] = edit(lines[4]!, (e) => {
      (e.payload as { n: number }).n = 500;
    });
    const report = await verify(lines);
    expect(report.problems).toEqual(['line 6 (seq 6): prev_hash does not link to seq 5']);
  });

  it('fails reordered lines', async () => {
    const lines = [...full];
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    const report = await verify(lines);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatch(/line 3 \(seq 4\)/);
  });

  it('fails a removed line: in the middle, the first, or (against a checkpoint) the last', async () => {
    const middle = full.filter((_, i) => i !== 6);
    expect((await verify(middle)).problems).toEqual(['line 7 (seq 8): seqs 7–7 are missing']);
    const first = full.slice(1);
    expect((await verify(first)).ok).toBe(false);
    const last = full.slice(0, -1);
    const report = await verify(last, false, true);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatch(/checkpoint at seq 12 is past the export's end/);
  });

  it('passes a filtered export only when told it is filtered', async () => {
    const filtered = full.filter((line) => JSON.parse(line).event_type === 'user.signed_in');
    expect((await verify(filtered)).ok).toBe(false);
    const report = await verify(filtered, true, true);
    expect(report).toMatchObject({ ok: true, events: 8, pieces: 4 });
  });

  it('catches a wholesale rewrite of the chain against a signed checkpoint', async () => {
    let prev: string | null = null;
    const rewritten = full.map((line) => {
      const event = JSON.parse(line);
      if (event.seq === 3) event.actor_label = 'nobody@example.com';
      event.prev_hash = prev;
      const { hash: _old, ...body } = event;
      prev = chainHash(body);
      return JSON.stringify({ ...body, hash: prev });
    });
    expect((await verify(rewritten)).ok).toBe(true);
    const report = await verify(rewritten, false, true);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'line 12 (seq 12): differs from the signed checkpoint at seq 12',
    ]);
  });

  it('refuses checkpoints with a forged signature or from another key', async () => {
    const forged: CheckpointsDocument = {
      ...checkpoints,
      checkpoints: checkpoints.checkpoints.map((c) => ({ ...c, hash: 'f'.repeat(64) })),
    };
    const report = await verifyAuditExport(full, { filtered: false, checkpoints: forged });
    expect(report.problems).toEqual(['checkpoint at seq 12: the signature does not verify']);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' });
    const wrongKey = await verifyAuditExport(full, {
      filtered: false,
      checkpoints: { ...checkpoints, public_key: other.toString() },
    });
    expect(wrongKey.ok).toBe(false);
  });

  it('reports malformed lines and unknown fields', async () => {
    const report = await verify([
      full[0]!,
      '{not json',
      JSON.stringify({ ...JSON.parse(full[1]!), constructor: 1 }),
    ]);
    expect(report.problems).toEqual([
      expect.stringMatching(/^line 2: not JSON/),
      'line 3: unexpected field "constructor"',
    ]);
  });
});
