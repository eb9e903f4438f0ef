import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { insertAccount } from '../test-support/accounts.js';
import { openTestStorage } from '../test-support/database.js';
import { runServerCommand } from '../test-support/server-process.js';
import { checkpointMessage } from './checkpoint-message.js';
import { listAuditCheckpoints, signAuditCheckpoints } from './checkpoints.js';
import { createAuditExportService } from './export.js';
import { publishedAuditKey } from './signing-key.js';
import { signedExport, writeEvents } from './test-support/fixtures.js';

let dir: string;
let full: string[];
const files = {
  full: '',
  deletedTail: '',
  deletedHead: '',
  emptied: '',
  filtered: '',
  key: '',
  otherKey: '',
  checkpoints: '',
  otherCheckpoints: '',
};
const { privateKey: signingKey } = generateKeyPairSync('ed25519');
const { privateKey: otherKey } = generateKeyPairSync('ed25519');

/**
 * Deletes chain rows as a database superuser can, past the delete guard
 * (which refuses a plain DELETE of live rows).
 */
async function deleteAsSuperuser(db: Kysely<Database>, accountId: string, seqs: number[]) {
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    await trx
      .deleteFrom('audit_events')
      .where('account_id', '=', accountId)
      .where('seq', 'in', seqs)
      .execute();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'emisar-audit-cli-'));
  const storage = await openTestStorage();
  try {
    const clock = new ManualClock();
    const service = createAuditExportService({ db: storage.db, clock });
    const signer = { signingKey, clock };
    const accountWith12 = async () => {
      const accountId = await insertAccount(storage.db);
      await writeEvents(storage.db, accountId, 12);
      return accountId;
    };
    const accountId = await accountWith12();
    await signAuditCheckpoints({ db: storage.db, signingKey, clock });
    full = await signedExport(service, signer, accountId);
    files.full = await save('full.ndjson', full);
    files.filtered = await save(
      'filtered.ndjson',
      await signedExport(service, signer, accountId, {
        filter: { since: null, eventTypes: ['runner.registered'] },
      }),
    );
    const checkpoints = await listAuditCheckpoints({ db: storage.db, signingKey, accountId });
    files.checkpoints = await save('checkpoints.json', [JSON.stringify(checkpoints)]);
    // The tester's forgery: every checkpoint signed with their own key, which the file names.
    const forged = {
      ...publishedAuditKey(otherKey),
      checkpoints: checkpoints.checkpoints.map((c) => ({
        ...c,
        signature: sign(null, checkpointMessage(c), otherKey).toString('base64'),
      })),
    };
    files.otherCheckpoints = await save('other-checkpoints.json', [JSON.stringify(forged)]);
    files.key = await save('key.json', [JSON.stringify(publishedAuditKey(signingKey))]);
    files.otherKey = await save('other-key.pem', [publishedAuditKey(otherKey).public_key]);

    // Rows deleted in the database, then exported by the server as usual.
    const tail = await accountWith12();
    await deleteAsSuperuser(storage.db, tail, [11, 12]);
    files.deletedTail = await save('tail.ndjson', await signedExport(service, signer, tail));
    const head = await accountWith12();
    await deleteAsSuperuser(storage.db, head, [1, 2, 3]);
    files.deletedHead = await save('head.ndjson', await signedExport(service, signer, head));
    const emptied = await accountWith12();
    await deleteAsSuperuser(
      storage.db,
      emptied,
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    files.emptied = await save('emptied.ndjson', await signedExport(service, signer, emptied));
  } finally {
    await storage.close();
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function save(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, lines.map((line) => `${line}\n`).join(''));
  return file;
}

const verifyExport = (...args: string[]) =>
  runServerCommand(['audit', 'verify-export', ...args], {});
const pinned = (...args: string[]) => verifyExport(...args, '--public-key', files.key);

// Each check starts a real process, which takes seconds on a loaded machine.
describe('emisar-server audit verify-export', { timeout: 120_000 }, () => {
  it('passes a full export, and checks it against the signed checkpoints', async () => {
    const plain = await pinned(files.full);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(
      /^verified: 12 event\(s\), seq 1–12 in 1 piece; signed head seq 12 at 2026-01-01T00:00:00\.000000Z\n$/,
    );
    const signed = await pinned(files.full, '--checkpoints', files.checkpoints);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(/1 signed checkpoint\(s\) matched/);
  });

  it.each([
    {
      rows: 'the tail',
      file: 'deletedTail',
      says: 'seqs 11–12 after the last exported seq are missing (the signed head is seq 12)',
    },
    {
      rows: 'the head',
      file: 'deletedHead',
      says: 'seqs 1–3 before the first exported seq (4) are missing, and retention did not remove them',
    },
    {
      rows: 'every row',
      file: 'emptied',
      says: 'seqs 1–12 are missing, and retention did not remove them',
    },
  ] as const)(
    'fails $rows deleted from the database, with or without --filtered',
    async ({ file, says }) => {
      const results = await Promise.all([pinned(files[file]), pinned(files[file], '--filtered')]);
      for (const result of results) {
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(/^FAILED: /);
        expect(result.stdout).toContain(says);
      }
    },
  );

  it('fails a checkpoints file signed by another key, and an export checked against another key', async () => {
    const checkpoints = await pinned(files.full, '--checkpoints', files.otherCheckpoints);
    expect(checkpoints.code).toBe(1);
    expect(checkpoints.stdout).toMatch(/checkpoints: signed by another key/);
    const head = await verifyExport(files.full, '--public-key', files.otherKey);
    expect(head.code).toBe(1);
    expect(head.stdout).toMatch(/\(head statement\): signed by another key/);
  });

  it('fails an edited, reordered or cut-off export, naming the line', async () => {
    const edited = [...full];
    edited[3] = edited[3]!.replace('"person4@example.com"', '"intruder@example.com"');
    const result = await pinned(await save('edited.ndjson', edited));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAILED: /);
    expect(result.stdout).toContain("line 4 (seq 4): the hash does not match the line's content");

    const reordered = [full[1]!, full[0]!, ...full.slice(2)];
    expect((await pinned(await save('reordered.ndjson', reordered))).code).toBe(1);
    const cut = await pinned(await save('cut.ndjson', full.slice(0, -2)));
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(/not followed by a signed head statement/);
  });

  it('passes a filtered export only with --filtered', async () => {
    expect((await pinned(files.filtered)).code).toBe(1);
    const result = await pinned(files.filtered, '--filtered');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^verified: 4 event\(s\), seq 3–12 in 4 pieces; signed head/);
    const json = await pinned(files.filtered, '--filtered', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, events: 4, firstSeq: 3, pieces: 4 });
  });

  it('exits 2 with one line without --public-key, for a missing file or a file of the wrong shape', async () => {
    const unpinned = await verifyExport(files.full);
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderr).toMatch(/--public-key/);
    const missing = await pinned(path.join(dir, 'nope.ndjson'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^emisar-server: cannot read .*nope\.ndjson: ENOENT\n$/);
    const wrong = await pinned(files.full, '--checkpoints', files.full);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    const notAKey = await verifyExport(files.full, '--public-key', files.full);
    expect(notAKey.code).toBe(2);
    expect(notAKey.stderr).toMatch(
      /^emisar-server: .*full\.ndjson is neither a PEM public key nor the JSON of the well-known key URL\n$/,
    );
  });
});
