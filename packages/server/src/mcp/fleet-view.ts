import type { CatalogQueries, TrustedOffering } from '../catalog/index.js';
import type { Clock } from '../core/clock.js';
import { packInReach, runnerInReach } from '../core/roles.js';
import type { Db } from '../core/tx.js';
import type { AgentRunner, FleetQueries } from '../fleet/index.js';
import type { McpCaller } from './caller.js';

export interface FleetViewDeps {
  db: Db;
  clock: Clock;
  catalog: Pick<CatalogQueries, 'trustedOfferings'>;
  fleet: Pick<FleetQueries, 'agentRunners'>;
}

/** What the caller can reach: runners in their runner reach, trusted offerings of those runners in their pack reach. */
export interface FleetView {
  observedAt: string;
  runners: AgentRunner[];
  runnerById: Map<string, AgentRunner>;
  offerings: TrustedOffering[];
}

export async function loadFleetView(deps: FleetViewDeps, caller: McpCaller): Promise<FleetView> {
  const { account, membership } = caller.access;
  const observedAt = deps.clock.now().toISOString();
  const runners = (await deps.fleet.agentRunners(deps.db, account.id, observedAt)).filter((r) =>
    runnerInReach(membership.runner_access, { id: r.id, group: r.group }),
  );
  const runnerById = new Map(runners.map((r) => [r.id, r]));
  const offerings = (await deps.catalog.trustedOfferings(deps.db, account.id)).filter(
    (o) => runnerById.has(o.runnerId) && packInReach(membership.pack_access, o.packId),
  );
  return { observedAt, runners, runnerById, offerings };
}

/** The runner is connected, has the action's program, and describes it as the trusted pack does. */
export const isRunnable = (view: FleetView, o: TrustedOffering) =>
  o.executableAvailable &&
  o.contractMatches &&
  view.runnerById.get(o.runnerId)?.status === 'connected';

/** A runner by its ref or its unique name; undefined when neither names one in reach. */
export function findRunner(view: FleetView, refOrName: string): AgentRunner | undefined {
  return (
    view.runners.find((r) => r.ref === refOrName) ?? view.runners.find((r) => r.name === refOrName)
  );
}

/** The runners a free-text `target` names: ref, name, hostname or group, case-insensitive. */
export function targetRunners(view: FleetView, target: string): AgentRunner[] {
  const t = target.toLowerCase();
  const exact = view.runners.filter((r) =>
    [r.ref, r.name, r.hostname, r.group].some((field) => field.toLowerCase() === t),
  );
  if (exact.length > 0) return exact;
  return view.runners.filter(
    (r) => r.name.toLowerCase().startsWith(t) || r.hostname.toLowerCase().startsWith(t),
  );
}

/** A runner as tools show it: the ref, never a database or external id. */
export function runnerBrief(runner: AgentRunner, executableAvailable?: boolean) {
  return {
    runner_ref: runner.ref,
    name: runner.name,
    status: runner.status,
    ...(executableAvailable === undefined ? {} : { executable_available: executableAvailable }),
  };
}
