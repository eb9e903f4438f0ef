import { generateKeyPairSync, sign } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { insertAccount } from '../test-support/accounts.js';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import { chainHash } from './chain.js';
import type { CheckpointsDocument } from './checkpoint-message.js';
import { checkpointMessage } from './checkpoint-message.js';
import { listAuditCheckpoints, signAuditCheckpoints } from './checkpoints.js';
import { type AuditExportService, createAuditExportService } from './export.js';
import { createExportHeadSigner } from './export-head.js';
import { recordAuditEvent } from './record.js';
import { sweepAuditRetention } from './retention.js';
import { publishedAuditKey } from './signing-key.js';
import { sampleEvent, signedExport, writeEvents } from './test-support/fixtures.js';
import { type VerifyOptions, verifyAuditExport } from './verify.js';

let storage: TestStorage;
let service: AuditExportService;
const clock = new ManualClock('2026-05-01T12:00:00Z');
const { privateKey: signingKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const signer = { signingKey, clock };
let accountId: string;
/** A full export: 12 events, then the signed head statement. */
let full: string[];
let events: string[];
let checkpoints: CheckpointsDocument;

beforeAll(async () => {
  storage = await openTestStorage();
  service = createAuditExportService({ db: storage.db, clock });
  accountId = await insertAccount(storage.db);
  await writeEvents(storage.db, accountId, 12);
  expect(await signAuditCheckpoints({ db: storage.db, signingKey, clock })).toBe(1);
  full = await signedExport(service, signer, accountId);
  events = full.slice(0, -1);
  checkpoints = await listAuditCheckpoints({ db: storage.db, signingKey, accountId });
});
afterAll(() => storage.close());

const verify = (lines: string[], options: Partial<VerifyOptions> = {}) =>
  verifyAuditExport(lines, { publicKey, filtered: false, ...options });
const head = () => full.at(-1)!;

/** Re-hashes a line after editing it, as someone rewriting the file would. */
function edit(line: string, change: (event: Record<string, unknown>) => void): string {
  const event = JSON.parse(line);
  change(event);
  const { hash: _old, ...body } = event;
  return JSON.stringify({ ...body, hash: chainHash(body) });
}

/** The head statement with `change` applied, signed again with `key`. */
function resign(
  line: string,
  key: typeof signingKey,
  change: (h: Record<string, unknown>) => void,
) {
  const { type: _t, signed_at: _s, key_id: _k, signature: _sig, ...coverage } = JSON.parse(line);
  change(coverage);
  return createExportHeadSigner({ signingKey: key, clock })(coverage).trimEnd();
}

describe('verifyAuditExport', () => {
  it('passes a full export, with and without its checkpoints', async () => {
    expect(await verify(full)).toMatchObject({
      ok: true,
      events: 12,
      pieces: 1,
      heads: 1,
      head: { seq: 12 },
      problems: [],
    });
    expect(await verify(full, { checkpoints })).toMatchObject({ ok: true, checkpointsMatched: 1 });
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
    expect(report.problems).toEqual([
      'line 4 (seq 3): out of order after seq 4',
      'line 3 (seq 4): seqs 3–3 are missing',
    ]);
  });

  it('fails a removed line in the middle, even when told the export was filtered', async () => {
    const middle = full.filter((_, i) => i !== 6);
    for (const filtered of [false, true]) {
      expect((await verify(middle, { filtered })).problems).toEqual([
        'line 7 (seq 8): seqs 7–7 are missing',
      ]);
    }
  });

  it('fails removed first lines (the head of the chain)', async () => {
    const report = await verify(full.slice(3), { filtered: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'line 10 (head statement): seqs 1–3 before the first exported seq (4) are missing, and retention did not remove them',
    ]);
  });

  it('fails removed last lines (the tail) when the head statement is kept', async () => {
    const report = await verify([...events.slice(0, -2), head()], { filtered: true });
    expect(report.problems).toEqual([
      'line 11 (head statement): seqs 11–12 after the last exported seq are missing (the signed head is seq 12)',
    ]);
  });

  it('fails an emptied export, filtered or not', async () => {
    for (const filtered of [false, true]) {
      const report = await verify([head()], { filtered });
      expect(report.problems).toEqual([
        'line 1 (head statement): seqs 1–12 are missing, and retention did not remove them',
      ]);
    }
  });

  it('fails a file cut short or without any head statement', async () => {
    const cut = await verify(full.slice(0, -3));
    expect(cut.problems).toEqual([
      'lines 1–10 are not followed by a signed head statement: the download was cut short, or the file was edited',
    ]);
    const none = await verify([]);
    expect(none.ok).toBe(false);
    expect(none.problems[0]).toMatch(/^no signed head statement/);
  });

  it('fails a head statement that was edited, or signed again with another key', async () => {
    const cutBack = [...events.slice(0, -1)];
    const edited = JSON.parse(head());
    edited.head_seq = 11;
    edited.through = { seq: 11, sub: 0 };
    edited.head_hash = JSON.parse(cutBack.at(-1)!).hash;
    expect((await verify([...cutBack, JSON.stringify(edited)])).problems).toEqual([
      'line 12 (head statement): the signature does not verify',
    ]);
    const theirs = resign(head(), other.privateKey, (h) => {
      h.head_seq = 11;
      h.through = { seq: 11, sub: 0 };
      h.head_hash = edited.head_hash;
    });
    const report = await verify([...cutBack, theirs]);
    expect(report.problems).toEqual([
      expect.stringMatching(
        /^line 12 \(head statement\): signed by another key \(key id [0-9a-f]{16}; pinned [0-9a-f]{16}\)$/,
      ),
    ]);
  });

  it('catches a wholesale rewrite of the chain by its head, and against a signed checkpoint', async () => {
    let prev: string | null = null;
    const rewritten = events.map((line) => {
      const event = JSON.parse(line);
      if (event.seq === 3) event.actor_label = 'nobody@example.com';
      event.prev_hash = prev;
      const { hash: _old, ...body } = event;
      prev = chainHash(body);
      return JSON.stringify({ ...body, hash: prev });
    });
    const report = await verify([...rewritten, head()], { checkpoints });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'line 12 (seq 12): differs from the signed checkpoint at seq 12',
      'line 12 (seq 12): differs from the signed head at seq 12',
    ]);
  });

  it('refuses checkpoints with a forged signature, or signed by another key', async () => {
    const forged: CheckpointsDocument = {
      ...checkpoints,
      checkpoints: checkpoints.checkpoints.map((c) => ({ ...c, hash: 'f'.repeat(64) })),
    };
    expect((await verify(full, { checkpoints: forged })).problems).toEqual([
      'checkpoint at seq 12: the signature does not verify',
    ]);
    // Every signature holds under the document's own key, which is not the pinned one.
    const theirs: CheckpointsDocument = {
      ...publishedAuditKey(other.privateKey),
      checkpoints: checkpoints.checkpoints.map((c) => ({
        ...c,
        signature: sign(null, checkpointMessage(c), other.privateKey).toString('base64'),
      })),
    };
    const report = await verify(full, { checkpoints: theirs });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.stringMatching(/^checkpoints: signed by another key \(key id [0-9a-f]{16}; pinned /),
    ]);
  });

  it('fails a checkpoint past the signed head: the chain was cut back and the head rewritten', async () => {
    const cutBack = events.slice(0, -1);
    const theirs = resign(head(), signingKey, (h) => {
      h.head_seq = 11;
      h.through = { seq: 11, sub: 0 };
      h.head_hash = JSON.parse(cutBack.at(-1)!).hash;
    });
    expect((await verify([...cutBack, theirs])).ok).toBe(true);
    const report = await verify([...cutBack, theirs], { checkpoints });
    expect(report.problems).toEqual([
      'the checkpoint at seq 12 is past the signed head (seq 11): the chain was cut back, or the export predates the checkpoint',
    ]);
  });

  it('passes a filtered export only when told it is filtered, and only with what it asked for', async () => {
    const filter = { since: null, eventTypes: ['user.signed_in'] };
    const filtered = await signedExport(service, signer, accountId, { filter });
    expect(filtered).toHaveLength(9);
    expect((await verify(filtered)).problems).toEqual([
      'line 9 (head statement): the export was filtered (event_type=user.signed_in); verify it with --filtered',
    ]);
    expect(await verify(filtered, { filtered: true, checkpoints })).toMatchObject({
      ok: true,
      events: 8,
      pieces: 4,
    });
    const stray = [events[2]!, ...filtered].sort(
      (a, b) => (JSON.parse(a).seq ?? 99) - (JSON.parse(b).seq ?? 99),
    );
    expect((await verify(stray, { filtered: true })).problems).toEqual([
      'line 10 (head statement): the response holds runner.registered events, which its filter leaves out',
    ]);
  });

  it('passes pages joined in one file, and fails when a page is left out', async () => {
    const pages: string[][] = [];
    let after = { seq: 0, sub: 0 };
    for (let i = 0; i < 4; i++) {
      const page = await signedExport(service, signer, accountId, { after, limit: 5 });
      pages.push(page);
      after = JSON.parse(page.at(-1)!).through;
    }
    expect(pages.map((p) => p.length)).toEqual([6, 6, 3, 1]);
    const joined = await verify(pages.flat());
    expect(joined).toMatchObject({ ok: true, events: 12, heads: 4, head: { seq: 12 } });
    const skipped = await verify([...pages[0]!, ...pages[2]!, ...pages[3]!]);
    expect(skipped.ok).toBe(false);
    expect(skipped.problems).toEqual([
      'line 9 (head statement): this response starts after seq 10, the one before covered up to seq 5: what lies between is not in the file',
    ]);
  });

  it('explains the gaps retention made, and no other', async () => {
    const trimmed = await insertAccount(storage.db);
    const at = (n: number, occurredAt: string) =>
      storage.db
        .transaction()
        .execute((trx) => recordAuditEvent(trx, { ...sampleEvent(trimmed, n), occurredAt }));
    for (let n = 1; n <= 3; n++) await at(n, '2026-06-01T00:00:00Z');
    for (let n = 4; n <= 8; n++) await at(n, '2026-06-28T00:00:00Z');
    const sweep = await sweepAuditRetention({
      db: storage.db,
      clock: new ManualClock('2026-07-01'),
    });
    expect(sweep.deleted).toBe(3);
    const export1 = await signedExport(service, signer, trimmed);
    expect(JSON.parse(export1.at(-1)!).removed_by_retention).toEqual([[1, 3]]);
    expect(await verify(export1)).toMatchObject({ ok: true, firstSeq: 4, lastSeq: 9 });

    // Someone with the power to bypass the delete guard removes a live row.
    await storage.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx);
      await trx
        .deleteFrom('audit_events')
        .where('account_id', '=', trimmed)
        .where('seq', '=', 4)
        .execute();
    });
    const export2 = await signedExport(service, signer, trimmed);
    expect((await verify(export2, { filtered: true })).problems).toEqual([
      'line 6 (head statement): seqs 4–4 before the first exported seq (5) are missing, and retention did not remove them',
    ]);
  });

  it('reports malformed lines and unknown fields', async () => {
    const report = await verify([
      full[0]!,
      '{not json',
      JSON.stringify({ ...JSON.parse(full[1]!), constructor: 1 }),
      JSON.stringify({ type: 'something.else' }),
      head(),
    ]);
    expect(report.problems).toEqual([
      expect.stringMatching(/^line 2: not JSON/),
      'line 3: unexpected field "constructor"',
      'line 4: neither an event nor a head statement',
      'line 5 (head statement): seqs 2–12 after the last exported seq are missing (the signed head is seq 12)',
    ]);
  });
});
