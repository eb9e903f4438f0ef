import { fileURLToPath } from 'node:url';
import { actionDescriptor, discoverPacks } from '@emisar/packs';
import type { ActionDescriptor, RunnerStateFrame } from '@emisar/protocol';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { runnerRef } from '../queries.js';

/** The repo's own packs (`packs/`), as a runner would load them. */
export const REPO_PACKS_DIR = fileURLToPath(new URL('../../../../../packs', import.meta.url));

let runners = 0;

/** A runner row written straight to the database, already holding connection generation 1. */
export async function insertRunner(
  db: Kysely<Database>,
  accountId: string,
  options: { name?: string; externalId?: string; group?: string } = {},
): Promise<{ id: string; ref: string; generation: number }> {
  runners += 1;
  const name = options.name ?? `host-${process.pid}-${runners}`;
  const externalId = options.externalId ?? name;
  const ref = runnerRef(name, externalId);
  const row = await db
    .insertInto('runners')
    .values({
      account_id: accountId,
      name,
      external_id: externalId,
      ref,
      group_name: options.group ?? 'default',
      hostname: name,
      labels: '{}',
      version: '0.1.0',
      connection_generation: 1,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, ref, generation: 1 };
}

/** The runner_state a runner with the repo's packs sends (availability: every binary present). */
export async function repoPacksState(
  change: (descriptor: ActionDescriptor) => ActionDescriptor = (d) => d,
): Promise<RunnerStateFrame> {
  const { packs } = await discoverPacks([REPO_PACKS_DIR]);
  const state: RunnerStateFrame = {
    type: 'runner_state',
    version: '0.1.0',
    hostname: 'fixture-host',
    group: '',
    labels: {},
    enforce_signatures: false,
    signing_ca_ids: [],
    max_attestation_age_seconds: 0,
    degraded_packs: [],
    packs: {},
    actions: [],
  };
  for (const pack of packs) {
    state.packs[pack.id] = { version: pack.version, hash: pack.hash };
    for (const action of pack.actions) {
      state.actions.push(change(actionDescriptor(action, { available: true })));
    }
  }
  return state;
}

/** The same state with one pack's hash replaced (a tampered or locally edited host). */
export function withPackHash(
  state: RunnerStateFrame,
  packId: string,
  hash: string,
): RunnerStateFrame {
  return { ...state, packs: { ...state.packs, [packId]: { ...state.packs[packId]!, hash } } };
}
