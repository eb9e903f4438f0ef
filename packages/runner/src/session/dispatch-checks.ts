import { createHash } from 'node:crypto';
import { hashPackFiles } from '@emisar/packs';
import type { RunActionFrame } from '@emisar/protocol';
import type { Registry } from '../engine/registry.js';

/** SHA-256 over the dispatch's facts: a redelivery must match all of them. */
export function dispatchDigest(frame: RunActionFrame, rawArgs: string): string {
  const hash = createHash('sha256');
  const opts = frame.opts ?? {};
  const parts = [
    frame.action_id,
    frame.expected_pack_hash,
    frame.pack_ref,
    rawArgs,
    `${opts.timeout ?? ''}/${opts.max_stdout_bytes ?? ''}/${opts.max_stderr_bytes ?? ''}`,
    frame.reason,
    frame.operation_id,
  ];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    hash.update(`${bytes.length}:`).update(bytes).update('\0');
  }
  return hash.digest('hex');
}

/** Re-hash the pack from disk: it must equal what was loaded, what the server expects, and its pack_ref. */
export async function trustGate(
  registry: Registry,
  frame: RunActionFrame,
): Promise<string | undefined> {
  const entry = registry.actions.get(frame.action_id);
  if (!entry) return undefined; // the engine answers unknown_action
  const { pack } = entry;
  if (frame.expected_pack_hash !== pack.hash || frame.pack_ref !== pack.packRef) {
    return 'pack_hash_mismatch: the dispatch names a different pack version';
  }
  let onDisk: string;
  try {
    onDisk = await hashPackFiles(pack);
  } catch {
    return 'pack_hash_mismatch: pack files are unreadable';
  }
  return onDisk === pack.hash
    ? undefined
    : 'pack_hash_mismatch: pack files changed on disk since load';
}
