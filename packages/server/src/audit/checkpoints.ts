import { type KeyObject, sign } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { type CheckpointsDocument, checkpointMessage } from './checkpoint-message.js';
import { publishedAuditKey } from './signing-key.js';
import { normalizeTimestamp } from './timestamps.js';

/**
 * Signs the chain head of every account whose head moved since its last
 * checkpoint (Ed25519 over `checkpointMessage`), in one transaction.
 * Idempotent. Returns how many checkpoints it wrote.
 */
export async function signAuditCheckpoints(deps: {
  db: Kysely<Database>;
  signingKey: KeyObject;
  clock: Clock;
}): Promise<number> {
  const { db, signingKey, clock } = deps;
  return db.transaction().execute(async (trx) => {
    const heads = await trx
      .selectFrom('audit_chain_heads as h')
      .select(['h.account_id', 'h.seq', 'h.hash'])
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('audit_checkpoints as c')
              .select('c.seq')
              .whereRef('c.account_id', '=', 'h.account_id')
              .whereRef('c.seq', '>=', 'h.seq'),
          ),
        ),
      )
      .execute();
    if (heads.length === 0) return 0;
    const signedAt = normalizeTimestamp(clock.now().toISOString())!;
    const checkpoints = heads.map((head) => {
      const unsigned = { ...head, signed_at: signedAt };
      return {
        ...unsigned,
        signature: sign(null, checkpointMessage(unsigned), signingKey).toString('base64'),
      };
    });
    for (let start = 0; start < checkpoints.length; start += 1000) {
      await trx
        .insertInto('audit_checkpoints')
        .values(checkpoints.slice(start, start + 1000))
        .onConflict((oc) => oc.columns(['account_id', 'seq']).doNothing())
        .execute();
    }
    return checkpoints.length;
  });
}

/** An account's checkpoints, oldest first, with the key that verifies them. */
export async function listAuditCheckpoints(deps: {
  db: Kysely<Database>;
  signingKey: KeyObject;
  accountId: string;
}): Promise<CheckpointsDocument> {
  const rows = await deps.db
    .selectFrom('audit_checkpoints')
    .select(['account_id', 'seq', 'hash', 'signed_at', 'signature'])
    .where('account_id', '=', deps.accountId)
    .orderBy('seq')
    .execute();
  return { ...publishedAuditKey(deps.signingKey), checkpoints: rows };
}
