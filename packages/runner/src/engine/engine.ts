import { admit } from './admission.js';
import { runContext } from './context.js';
import { execute } from './execute.js';
import { finish } from './finish.js';
import { prepare } from './prepare.js';
import type { Registry } from './registry.js';
import type { EngineDeps, EngineResult, RunHooks, RunRequest } from './types.js';

export type { EngineDeps, EngineResult, RunHooks, RunRequest } from './types.js';

/**
 * Step 8 of the dispatch pipeline, also used by `emisar action run`, in four
 * steps: admission (reason, lookup, local admission, argument checks), prepare
 * (render, clamp, script recheck, executable), execute (journal the start, run,
 * redact, parse) and finish (journal the end, build the result). Never throws
 * for a bad request: every refusal is a result.
 */
export async function runAction(
  deps: EngineDeps,
  registry: Registry,
  request: RunRequest,
  hooks: RunHooks = {},
): Promise<EngineResult> {
  const run = runContext(deps, request);
  const admitted = await admit(run, registry);
  if (!admitted.ok) return admitted.result;
  const prepared = await prepare(run, admitted.value);
  if (!prepared.ok) return prepared.result;
  const executed = await execute(run, admitted.value, prepared.value, hooks);
  if (!executed.ok) return executed.result;
  return finish(run, admitted.value.packFields, prepared.value, executed.value);
}
