import { createHash } from 'node:crypto';
import { canonicalSha256Hex, type JsonObject, newRequestId } from '@emisar/protocol';
import type { Kysely } from 'kysely';
import type { AccountAccess } from '../core/access.js';
import { ConflictError, InvalidParamsError } from '../core/errors.js';
import type { Database } from '../db/schema.js';
import type { CreateRunBody } from './request.js';
import type { RunRow } from './transitions.js';

export interface CreatedRun {
  run: RunRow;
  /** The same Idempotency-Key with the same facts: the earlier run, nothing new. */
  replayed: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Another request with the same operation id committed first. */
export class OperationTaken extends Error {}

/**
 * With an Idempotency-Key the operation id is derived from the caller (a person,
 * or an API key's lineage, so a rotated key keeps its operations) and the key;
 * without one every request is a new operation.
 */
export function operationIdOf(
  access: AccountAccess,
  key: string | undefined,
): { id: string; keyed: boolean } {
  if (key === undefined) return { id: `op_${newRequestId().slice(4)}`, keyed: false };
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new InvalidParamsError(
      'Idempotency-Key must be 1 to 255 printable ASCII characters.',
      'invalid_idempotency_key',
    );
  }
  const { principal } = access;
  const caller =
    principal.kind === 'api_key'
      ? `key:${principal.key.lineageId}`
      : principal.kind === 'session'
        ? `user:${principal.userId}`
        : 'operator';
  const digest = createHash('sha256').update(`${caller}\n${key}`).digest('hex');
  return { id: `idem_${digest.slice(0, 48)}`, keyed: true };
}

/** The facts of a request: the same operation with other facts is a conflict. */
export function fingerprintOf(body: CreateRunBody): string {
  const facts: JsonObject = {
    runner: body.runner,
    action_id: body.actionId,
    pack_ref: body.packRef ?? null,
    args: body.args,
    reason: body.reason,
    evidence: body.evidence,
    expected: body.expected,
    opts: body.opts ? { ...body.opts } : null,
  };
  return canonicalSha256Hex(facts);
}

/** The earlier run of this operation, when its facts match. */
export function replay(run: RunRow, fingerprint: string): CreatedRun {
  if (run.request_fingerprint !== fingerprint) {
    throw new ConflictError(
      'This Idempotency-Key was used for a different request.',
      'operation_conflict',
    );
  }
  return { run, replayed: true };
}

export async function findByOperation(
  db: Kysely<Database>,
  accountId: string,
  operationId: string,
) {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('operation_id', '=', operationId)
    .executeTakeFirst();
}
