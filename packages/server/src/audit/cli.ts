import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../core/config-error.js';
import type { CheckpointsDocument } from './checkpoint-message.js';
import { AUDIT_KEY_PATH, parseAuditPublicKey } from './signing-key.js';
import { type VerifyReport, verifyAuditExport } from './verify.js';

const checkpointsSchema = z.object({
  algorithm: z.literal('Ed25519'),
  key_id: z.string().optional(),
  public_key: z.string(),
  checkpoints: z.array(
    z.object({
      account_id: z.string(),
      seq: z.number().int().positive(),
      hash: z.string(),
      signed_at: z.string(),
      signature: z.string(),
    }),
  ),
});

/** `emisar-server audit …`: offline checks of what `GET /api/audit` exported. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('audit log tools');
  audit
    .command('verify-export')
    .description(
      'verify an NDJSON export from GET /api/audit offline: every hash, every link, the signed head, no gaps retention did not make',
    )
    .argument('<file>', 'the exported .ndjson file')
    .requiredOption(
      '--public-key <file>',
      `the server's public key, pinned: a PEM, or the JSON of GET ${AUDIT_KEY_PATH}`,
    )
    .option('--filtered', 'accept an export filtered by event_type or since')
    .option('--json', 'print the report as JSON')
    .option(
      '--checkpoints <file>',
      'the JSON from GET /api/audit/checkpoints, fetched before the export',
    )
    .action(
      async (
        file: string,
        options: { publicKey: string; filtered?: boolean; checkpoints?: string; json?: boolean },
      ) => {
        const publicKey = await readPublicKey(options.publicKey);
        const checkpoints = options.checkpoints
          ? await readCheckpoints(options.checkpoints)
          : undefined;
        const report = await verifyAuditExport(await readLines(file), {
          publicKey,
          filtered: options.filtered === true,
          ...(checkpoints ? { checkpoints } : {}),
        });
        process.stdout.write(
          options.json
            ? `${JSON.stringify(report)}\n`
            : describe(report, checkpoints !== undefined),
        );
        if (!report.ok) process.exitCode = 1;
      },
    );
}

/** The file's lines, read as a stream: memory stays flat however large the export. */
async function readLines(file: string): Promise<AsyncIterable<string>> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ConfigError(`cannot read ${file}: ${error.code ?? error.message}`)),
    );
  });
  return createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

async function readPublicKey(file: string): Promise<KeyObject> {
  const text = await readText(file);
  try {
    return parseAuditPublicKey(text);
  } catch (error) {
    throw new ConfigError(`${file} ${(error as Error).message}`);
  }
}

async function readCheckpoints(file: string): Promise<CheckpointsDocument> {
  const text = await readText(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not JSON (expected the body of GET /api/audit/checkpoints)`);
  }
  const result = checkpointsSchema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(`${file} is not the body of GET /api/audit/checkpoints`);
  }
  return result.data;
}

function describe(report: VerifyReport, withCheckpoints: boolean): string {
  const range =
    report.firstSeq === null
      ? 'no chain events'
      : `seq ${report.firstSeq}–${report.lastSeq} in ${report.pieces} piece${report.pieces === 1 ? '' : 's'}`;
  const offChain = report.offChain ? `, ${report.offChain} outside the chain` : '';
  const signed = withCheckpoints
    ? `; ${report.checkpointsMatched} signed checkpoint(s) matched, ${report.checkpointsNotCovered} not covered by this export`
    : '';
  const head = report.head ? `; signed head seq ${report.head.seq} at ${report.head.signedAt}` : '';
  const summary = `${report.events} event(s), ${range}${offChain}${head}${signed}`;
  if (report.ok) return `verified: ${summary}\n`;
  return `FAILED: ${summary}\n${report.problems.map((p) => `  ${p}\n`).join('')}`;
}
