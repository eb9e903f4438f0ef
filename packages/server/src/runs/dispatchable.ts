import { type ArgSpec, argSpecsFromDeclared, validateArgs } from '@emisar/packs';
import { ARGS_MAX_BYTES } from '@emisar/protocol';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { CatalogQueries, DispatchContract } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import {
  ConflictError,
  type DomainError,
  InvalidParamsError,
  NotFoundError,
} from '../core/errors.js';
import { packInReach, runnerInReach } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import type { DispatchRunner, FleetQueries } from '../fleet/index.js';
import { type ArgsAtRest, argsAtRest } from './args.js';
import { type CreateRunBody, checkReasonFields } from './request.js';

/** Refusals of the dispatch contract that are audited (someone may be probing or a host drifted). */
const AUDITED_REFUSALS: ReadonlySet<string> = new Set([
  'pack_untrusted',
  'pack_retired',
  'action_contract_changed',
]);

interface DispatchDeps {
  db: Kysely<Database>;
  fleet: Pick<FleetQueries, 'findRunnerForDispatch' | 'refusedAction'>;
  catalog: Pick<CatalogQueries, 'resolveDispatchContract'>;
}

/** Everything a dispatchable request resolved to. */
export interface Dispatchable {
  runner: DispatchRunner;
  contract: Extract<DispatchContract, { ok: true }>;
  args: ArgsAtRest;
}

/**
 * The checks of the spec in order, before any decision: reason, runner,
 * reach, pack trust, pack reach, executable, arguments.
 */
export async function checkDispatchable(
  deps: DispatchDeps,
  access: AccountAccess,
  context: RequestContext,
  body: CreateRunBody,
): Promise<Dispatchable> {
  checkReasonFields(body);
  const runner = await reachableRunner(deps, access, body.runner);
  const contract = await trustedContract(deps, access, context, { runner, body });
  if (!packInReach(access.membership.pack_access, contract.packId)) {
    throw refusal('unknown_action');
  }
  if (!contract.executableAvailable) throw refusal('executable_unavailable');
  const specs = argSpecsFromDeclared(contract.descriptor.args);
  return { runner, contract, args: checkedArgs(specs, body) };
}

/** The named runner, live, enabled and in the caller's reach. */
async function reachableRunner(deps: DispatchDeps, access: AccountAccess, runnerIdOrRef: string) {
  const runner = await deps.fleet.findRunnerForDispatch(deps.db, access.account.id, runnerIdOrRef);
  if (
    !runner ||
    runner.deleted ||
    !runnerInReach(access.membership.runner_access, { id: runner.id, group: runner.group })
  ) {
    throw new NotFoundError('No such runner.', 'runner_not_found');
  }
  if (runner.disabled) {
    throw new ConflictError('This runner is disabled; enable it to dispatch.', 'runner_disabled');
  }
  return runner;
}

/** The trusted contract of the action on this runner; a refusal that matters is audited. */
async function trustedContract(
  { db, catalog, fleet }: DispatchDeps,
  access: AccountAccess,
  context: RequestContext,
  { runner, body }: { runner: DispatchRunner; body: CreateRunBody },
) {
  const accountId = access.account.id;
  const contract = await catalog.resolveDispatchContract(db, {
    accountId,
    runnerId: runner.id,
    actionId: body.actionId,
    packRef: body.packRef,
  });
  if (contract.ok) return contract;
  if (contract.reason === 'unknown_action') {
    const refused = await fleet.refusedAction(db, accountId, runner.id, body.actionId);
    if (refused && packInReach(access.membership.pack_access, refused.pack_id)) {
      throw new ConflictError(
        `${body.actionId} is not admitted on runner ${runner.name}: ${refused.reason}`,
        'action_not_admitted',
      );
    }
  }
  if (AUDITED_REFUSALS.has(contract.reason)) {
    await db.transaction().execute((trx) =>
      recordAuditEvent(trx, {
        accountId,
        eventType: `dispatch_blocked.${contract.reason}`,
        actor: access.actor,
        target: { kind: 'runner', id: runner.id, label: runner.ref },
        payload: { action_id: body.actionId, pack_ref: body.packRef ?? null },
        context,
      }),
    );
  }
  throw refusal(contract.reason);
}

/** The arguments checked against the trusted descriptor, as they will be stored. */
function checkedArgs(specs: ArgSpec[], body: CreateRunBody): ArgsAtRest {
  const validation = validateArgs({ args: specs }, body.args, { mode: 'lexical' });
  if (!validation.ok) {
    const details = validation.errors.map((e) => `${e.arg}: ${e.reason} (${e.code})`);
    throw new InvalidParamsError(`Invalid arguments — ${details.join('; ')}.`, 'invalid_args');
  }
  const args = argsAtRest(body.args, specs);
  if (args.bytes > ARGS_MAX_BYTES) {
    throw new InvalidParamsError(`args exceed ${ARGS_MAX_BYTES / 1024} KiB.`, 'args_too_large');
  }
  return args;
}

function refusal(reason: string): DomainError {
  switch (reason) {
    case 'unknown_action':
      return new NotFoundError('This runner offers no such action.', 'unknown_action');
    case 'pack_untrusted':
      return new ConflictError(
        'The pack version this action comes from is not trusted (or this runner drifted from the trusted hash).',
        'pack_untrusted',
      );
    case 'pack_retired':
      return new ConflictError('This pack version is retired.', 'pack_retired');
    case 'action_contract_changed':
      return new ConflictError(
        "The runner's description of this action differs from the trusted one.",
        'action_contract_changed',
      );
    default:
      return new ConflictError(
        "The action's program is not available on this runner.",
        'executable_unavailable',
      );
  }
}
