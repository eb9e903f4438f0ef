import {
  type ActionDefinition,
  type DegradedPack,
  discoverPacks,
  type LoadedPack,
  type RefusedAction,
} from '@emisar/packs';
import { type Admission, compileAdmission } from '../config/admission.js';
import type { RunnerConfig } from '../config/config.js';

export interface RegistryEntry {
  pack: LoadedPack;
  action: ActionDefinition;
  /** Loaded only because the host named it in admission.break_glass (see breakGlassAllowed). */
  breakGlass?: true;
}

/** An action loaded from a pack but refused there: listed with why, never run or advertised. */
export interface LoadRefusal {
  id: string;
  packId: string;
  reason: string;
}

/** An immutable snapshot of what this host can run; a reload swaps in a new one. */
export interface Registry {
  packs: LoadedPack[];
  degraded: DegradedPack[];
  /** Every loaded action, admitted or not (the engine reports which refusal applies). */
  actions: Map<string, RegistryEntry>;
  /** Actions the pack loader refused (and no break-glass opt-in lifted). */
  refused: LoadRefusal[];
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
  const refused: LoadRefusal[] = [];
  const breakGlass = new Set(config.admission.breakGlass);
  for (const pack of packs) {
    for (const action of pack.actions) actions.set(action.id, { pack, action });
    for (const r of pack.refusedActions) {
      if (breakGlass.has(r.id) && breakGlassAllowed(r)) {
        actions.set(r.id, { pack, action: r.action, breakGlass: true });
      } else refused.push({ id: r.id, packId: pack.id, reason: `refused at load: ${r.reason}` });
    }
  }
  return { packs, degraded, actions, refused, admission: compileAdmission(config.admission) };
}

/**
 * The only refusal a host may lift: a critical action whose sole fault is the
 * interpreter rule (free text into program text). Nothing else is break-glass.
 */
export function breakGlassAllowed(refused: RefusedAction): boolean {
  return (
    refused.action.risk === 'critical' &&
    refused.refusals.every((refusal) => refusal.rule === 'interpreter')
  );
}

/** Actions local admission lets through (the only ones advertised). */
export function admittedEntries(registry: Registry): RegistryEntry[] {
  return [...registry.actions.values()].filter(
    (entry) => registry.admission.check(entry.action.id, entry.action.risk).admitted,
  );
}
