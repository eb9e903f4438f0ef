import {
  type ActionDefinition,
  type DegradedPack,
  discoverPacks,
  type LoadedPack,
} from '@emisar/packs';
import { type Admission, compileAdmission } from '../config/admission.js';
import type { RunnerConfig } from '../config/config.js';

export interface RegistryEntry {
  pack: LoadedPack;
  action: ActionDefinition;
}

/** An immutable snapshot of what this host can run; a reload swaps in a new one. */
export interface Registry {
  packs: LoadedPack[];
  degraded: DegradedPack[];
  /** Every loaded action, admitted or not (the engine reports which refusal applies). */
  actions: Map<string, RegistryEntry>;
  admission: Admission;
}

export class ReloadError extends Error {
  override readonly name = 'ReloadError';
}

/**
 * Loads the packs. At boot a broken pack is skipped and reported as degraded; on
 * reload (strict) one broken pack fails the whole reload so the old registry stays.
 */
export async function loadRegistry(config: RunnerConfig, strict = false): Promise<Registry> {
  const { packs, degraded } = await discoverPacks(config.paths.packs);
  if (strict && degraded.length > 0) {
    throw new ReloadError(
      `reload refused, pack ${degraded[0]!.pack} is broken: ${degraded[0]!.reason}`,
    );
  }
  const actions = new Map<string, RegistryEntry>();
  for (const pack of packs) {
    for (const action of pack.actions) actions.set(action.id, { pack, action });
  }
  return { packs, degraded, actions, admission: compileAdmission(config.admission) };
}

/** Actions local admission lets through (the only ones advertised). */
export function admittedEntries(registry: Registry): RegistryEntry[] {
  return [...registry.actions.values()].filter(
    (entry) => registry.admission.check(entry.action.id, entry.action.risk).admitted,
  );
}
