import {
  type ActionDefinition,
  type ArgValues,
  type LoadedPack,
  validateArgs,
} from '@emisar/packs';
import { REASON_MIN_VISIBLE, reasonProblem } from '@emisar/protocol';
import type { RunContext } from './context.js';
import { RedactionSet } from './redaction.js';
import type { Registry } from './registry.js';
import type { Step } from './types.js';

/** An action this runner may run, with arguments that passed every check. */
export interface Admitted {
  pack: LoadedPack;
  action: ActionDefinition;
  values: ArgValues;
  /** Pack fields every later journal event carries. */
  packFields: Record<string, unknown>;
  redaction: RedactionSet;
}

/** Reason, lookup, local admission and argument checks, in that order. */
export async function admit(run: RunContext, registry: Registry): Promise<Step<Admitted>> {
  const { request, deps } = run;
  const refused = async (...args: Parameters<RunContext['refuse']>) => ({
    ok: false as const,
    result: await run.refuse(...args),
  });
  // A local run follows the control plane's rule (REASON_MIN_VISIBLE visible characters); a
  // dispatched one was checked there, so the wire rule (one visible character) suffices.
  const local = request.requestId === undefined;
  const badReason = reasonProblem(request.reason, local ? REASON_MIN_VISIBLE : 1);
  if (badReason) return refused('validation_failed', 'validation_failed', `reason ${badReason}`);
  const entry = registry.actions.get(request.actionId);
  if (!entry) return refused('dispatch_refused', 'unknown_action', 'unknown action');
  const { pack, action } = entry;
  const packFields = { pack_id: pack.id, metadata: { kind: action.kind, risk: action.risk } };
  const admitted = registry.admission.check(action.id, action.risk);
  if (!admitted.admitted) {
    return refused('action_blocked_by_admission', 'blocked_by_admission', admitted.why, packFields);
  }
  const validated = validateArgs(action, request.args, {
    mode: 'host',
    protectedPaths: deps.protectedPaths,
  });
  if (!validated.ok) {
    const detail = validated.errors.map((e) => `${e.arg}: ${e.code} (${e.reason})`).join('; ');
    return refused('validation_failed', 'validation_failed', detail.slice(0, 2048), packFields);
  }
  const redaction = new RedactionSet(action, validated.values, deps.config.redaction.rules);
  return { ok: true, value: { pack, action, packFields, redaction, values: validated.values } };
}
