import { canonicalJson } from '@emisar/protocol';
import type { PublishedAuditKey } from './signing-key.js';

/** A signed chain head, as stored and as `GET /api/audit/checkpoints` returns it. */
export interface AuditCheckpoint {
  account_id: string;
  seq: number;
  hash: string;
  signed_at: string;
  /** base64 Ed25519 signature over `checkpointMessage(...)`. */
  signature: string;
}

/**
 * The bytes the server signs: the canonical JSON of the head with a type tag,
 * so a signature over a checkpoint can never pass for one over anything else
 * the same key signs (deletion certificates).
 */
export function checkpointMessage(checkpoint: Omit<AuditCheckpoint, 'signature'>): Buffer {
  return Buffer.from(
    canonicalJson({
      type: 'emisar.audit_checkpoint.v1',
      account_id: checkpoint.account_id,
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      signed_at: checkpoint.signed_at,
    }),
    'utf8',
  );
}

/** What `GET /api/audit/checkpoints` returns; `verify-export --checkpoints` reads it. */
export interface CheckpointsDocument {
  algorithm: 'Ed25519';
  /** Absent in documents saved before keys had ids. */
  key_id?: PublishedAuditKey['key_id'];
  public_key: string;
  checkpoints: AuditCheckpoint[];
}
