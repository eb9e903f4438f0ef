import { type ActionDescriptor, descriptorDigest } from '@emisar/protocol';
import type { PackManifest } from './tables.js';

/**
 * The descriptor with its per-host availability fields normalised away: two
 * runners with the same pack hash agree on it even when one lacks the binary.
 */
export function contractDescriptor(descriptor: ActionDescriptor): ActionDescriptor {
  const { missing_executable: _missing, ...rest } = descriptor;
  return { ...rest, primary_executable_available: true };
}

/** The digest that must equal the trusted manifest's for an action to be dispatchable. */
export function contractDigest(descriptor: ActionDescriptor): string {
  return descriptorDigest(contractDescriptor(descriptor));
}

/** The manifest of one pack hash: each action's contract descriptor by id. */
export function manifestOf(actions: readonly ActionDescriptor[]): PackManifest {
  const manifest: PackManifest = {};
  for (const action of actions) manifest[action.id] = contractDescriptor(action);
  return manifest;
}
