import { type KeyObject, verify as verifySignature } from 'node:crypto';
import {
  type AuditCheckpoint,
  type CheckpointsDocument,
  checkpointMessage,
} from './checkpoint-message.js';
import { exportHeadSignedBy, type SignedExportHead } from './export-head.js';
import { auditKeyId, parseAuditPublicKey, sameKey } from './signing-key.js';

/** Whether a head statement is signed by the pinned key; a problem names why not. */
export function checkHeadSignature(
  head: SignedExportHead,
  publicKey: KeyObject,
  where: string,
  problem: (text: string) => void,
): boolean {
  const pinned = auditKeyId(publicKey);
  if (head.key_id !== pinned) {
    problem(`${where}: signed by another key (key id ${head.key_id}; pinned ${pinned})`);
    return false;
  }
  if (!exportHeadSignedBy(head, publicKey)) {
    problem(`${where}: the signature does not verify`);
    return false;
  }
  return true;
}

/**
 * The signed checkpoints whose signatures hold under the pinned key; the
 * others are problems. A document published with another key is refused whole.
 */
export function checkedCheckpoints(
  document: CheckpointsDocument,
  publicKey: KeyObject,
  problem: (text: string) => void,
): AuditCheckpoint[] {
  const pinned = auditKeyId(publicKey);
  let theirs: KeyObject;
  try {
    theirs = parseAuditPublicKey(document.public_key);
  } catch {
    problem('checkpoints: public_key is not an Ed25519 public key');
    return [];
  }
  if (!sameKey(theirs, publicKey)) {
    problem(`checkpoints: signed by another key (key id ${auditKeyId(theirs)}; pinned ${pinned})`);
    return [];
  }
  const valid: AuditCheckpoint[] = [];
  for (const checkpoint of document.checkpoints ?? []) {
    const signature = Buffer.from(String(checkpoint.signature), 'base64');
    let holds = false;
    try {
      holds = verifySignature(null, checkpointMessage(checkpoint), publicKey, signature);
    } catch {
      holds = false;
    }
    if (holds) valid.push(checkpoint);
    else problem(`checkpoint at seq ${checkpoint.seq}: the signature does not verify`);
  }
  return valid;
}
