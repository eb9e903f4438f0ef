import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { openTestStorage } from '../test-support/database.js';
import { runServerCommand } from '../test-support/server-process.js';
import { listAuditCheckpoints, signAuditCheckpoints } from './checkpoints.js';
import { createAuditExportService } from './export.js';
import { START } from './query.js';
import { insertAccount, writeEvents } from './test-support/fixtures.js';

let dir: string;
let full: string[];
const files = { full: '', checkpoints: '' };
const { privateKey: signingKey } = generateKeyPairSync('ed25519');

beforeAll(async () => {
  const storage = await openTestStorage();
  try {
    const accountId = await insertAccount(storage.db);
    await writeEvents(storage.db, accountId, 12);
    const clock = new ManualClock();
    await signAuditCheckpoints({ db: storage.db, signingKey, clock });
    const stream = await createAuditExportService({ db: storage.db, clock }).stream(
      accountId,
      START,
      { since: null, eventTypes: null },
    );
    let text = '';
    for await (const chunk of stream.chunks) text += chunk;
    full = text.split('\n').filter(Boolean);
    dir = await mkdtemp(path.join(tmpdir(), 'emisar-audit-cli-'));
    files.full = await save('full.ndjson', full);
    files.checkpoints = path.join(dir, 'checkpoints.json');
    await writeFile(
      files.checkpoints,
      JSON.stringify(await listAuditCheckpoints({ db: storage.db, signingKey, accountId })),
    );
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

describe('emisar-server audit verify-export', () => {
  it('passes a full export, and checks it against the signed checkpoints', async () => {
    const plain = await verifyExport(files.full);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('verified: 12 event(s), seq 1–12 in 1 piece\n');
    const signed = await verifyExport(files.full, '--checkpoints', files.checkpoints);
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(/1 signed checkpoint\(s\) matched/);
  });

  it('fails an edited, reordered or truncated export, naming the line', async () => {
    const edited = [...full];
    edited[3] = edited[3]!.replace('"person4@example.com"', '"intruder@example.com"');
    const result = await verifyExport(await save('edited.ndjson', edited));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAILED: /);
    expect(result.stdout).toContain("line 4 (seq 4): the hash does not match the line's content");

    const reordered = [full[1]!, full[0]!, ...full.slice(2)];
    expect((await verifyExport(await save('reordered.ndjson', reordered))).code).toBe(1);
    const truncated = await verifyExport(
      await save('truncated.ndjson', full.slice(0, -1)),
      '--checkpoints',
      files.checkpoints,
    );
    expect(truncated.code).toBe(1);
    expect(truncated.stdout).toMatch(/past the export's end/);
  });

  it('passes a filtered export only with --filtered', async () => {
    const filtered = await save(
      'filtered.ndjson',
      full.filter((line) => JSON.parse(line).event_type === 'runner.registered'),
    );
    expect((await verifyExport(filtered)).code).toBe(1);
    const result = await verifyExport(filtered, '--filtered');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('verified: 4 event(s), seq 3–12 in 4 pieces\n');
  });

  it('exits 2 with one line for a missing file or a checkpoints file of the wrong shape', async () => {
    const missing = await verifyExport(path.join(dir, 'nope.ndjson'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^emisar-server: cannot read .*nope\.ndjson: ENOENT\n$/);
    const wrong = await verifyExport(files.full, '--checkpoints', files.full);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  });
});
