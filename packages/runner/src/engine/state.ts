import { hostname } from 'node:os';
import { actionDescriptor, truncateUtf8 } from '@emisar/packs';
import {
  REFUSED_ACTION_REASON_MAX_BYTES,
  REFUSED_ACTIONS_MAX,
  type RunnerStateFrame,
} from '@emisar/protocol';
import type { RunnerConfig } from '../config/config.js';
import { findExecutable } from '../exec/executable.js';
import { admittedEntries, type Registry } from './registry.js';

/** Whether each action's primary executable is on the runner's PATH, by action id. */
export type Availability = Map<string, { available: boolean; missing?: string }>;

export async function checkAvailability(
  registry: Registry,
  pathEnv: string,
): Promise<Availability> {
  const availability: Availability = new Map();
  for (const { action } of registry.actions.values()) {
    const binary = action.execution.binary;
    const found = await findExecutable(binary, pathEnv);
    availability.set(
      action.id,
      found ? { available: true } : { available: false, missing: binary },
    );
  }
  return availability;
}

export function sameAvailability(a: Availability, b: Availability): boolean {
  if (a.size !== b.size) return false;
  for (const [id, value] of a) if (b.get(id)?.available !== value.available) return false;
  return true;
}

/** The runner_state frame: admitted actions only, packs with their hashes, degraded packs. */
export function buildRunnerState(
  config: RunnerConfig,
  registry: Registry,
  availability: Availability,
  version: string,
): RunnerStateFrame {
  const packs: RunnerStateFrame['packs'] = {};
  for (const pack of registry.packs) packs[pack.id] = { version: pack.version, hash: pack.hash };
  return {
    type: 'runner_state',
    version,
    hostname: hostname(),
    group: config.runner.group ?? '',
    labels: config.runner.labels,
    enforce_signatures: false,
    signing_ca_ids: [],
    max_attestation_age_seconds: 0,
    degraded_packs: registry.degraded,
    packs,
    actions: admittedEntries(registry).map(({ action, breakGlass }) => ({
      ...actionDescriptor(action, availability.get(action.id) ?? { available: true }),
      ...(breakGlass ? { break_glass: true as const } : {}),
    })),
    ...refusedActions(registry),
  };
}

/** Actions loaded but refused (at load, or by local admission) with why; left out when none. */
function refusedActions(registry: Registry): Pick<RunnerStateFrame, 'refused_actions'> {
  const refused = registry.refused.map((r) => ({ id: r.id, pack_id: r.packId, reason: r.reason }));
  for (const { pack, action } of registry.actions.values()) {
    const decision = registry.admission.check(action.id, action.risk);
    if (!decision.admitted) {
      refused.push({ id: action.id, pack_id: pack.id, reason: `not admitted: ${decision.why}` });
    }
  }
  if (refused.length === 0) return {};
  return {
    refused_actions: refused.slice(0, REFUSED_ACTIONS_MAX).map((r) => ({
      ...r,
      reason: truncateUtf8(r.reason, REFUSED_ACTION_REASON_MAX_BYTES),
    })),
  };
}
