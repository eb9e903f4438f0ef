import type { ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import { refreshAccountAccess } from '../access/index.js';
import { type AccountEvent, subscribeAccountEvents } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import { type AccountAccess, requirePermission } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { UUID_PATTERN } from '../core/parse-input.js';
import { runnerInReach } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries } from '../fleet/index.js';

export interface EventStreamDeps {
  db: Kysely<Database>;
  fleet: Pick<FleetQueries, 'findRunnerForDispatch'>;
  clock: Clock;
  bus: NotifyBus;
  log: { warn(fields: object, message: string): void };
  /** Between comment lines that keep proxies from closing an idle stream; access is re-checked on each. */
  heartbeatMs: number;
}

/** Events waiting for a slow client or database beyond this end the stream (the client reconnects). */
const BACKLOG_MAX = 1000;

/**
 * Writes the account's events to an open SSE response until it closes. The
 * caller's access is checked again (session or key still live, membership not
 * removed or suspended, role still viewing the fleet) when their membership
 * changes — announced over the bus by whichever node changed it, in commit
 * order, so no later event slips through — and on every heartbeat; once it is
 * gone the stream ends. Runner reach is applied per event from the current
 * access.
 */
export async function streamAccountEvents(
  deps: EventStreamDeps,
  access: AccountAccess,
  res: ServerResponse,
): Promise<void> {
  let current = access;
  let counter = 0;
  let recheckDue = false;
  let draining = false;
  const backlog: AccountEvent[] = [];
  const open = () => !res.writableEnded && !res.destroyed;

  async function drain(): Promise<void> {
    if (draining) return;
    draining = true;
    try {
      while (open() && (recheckDue || backlog.length > 0)) {
        if (recheckDue) {
          recheckDue = false;
          current = await refreshAccountAccess(deps.db, current, deps.clock);
          requirePermission(current, 'fleet.view');
          continue;
        }
        const event = backlog.shift()!;
        if (!(await mayHear(deps, current, event)) || !open()) continue;
        counter += 1;
        res.write(
          `event: ${event.kind}\nid: ${counter}\ndata: ${JSON.stringify({ id: event.id })}\n\n`,
        );
      }
    } catch (error) {
      if (!(error instanceof DomainError)) deps.log.warn({ err: error }, 'event stream stopped');
      res.end();
    } finally {
      draining = false;
    }
  }

  const stop = await subscribeAccountEvents(deps.bus, (event) => {
    if (event.accountId !== current.account.id || !open()) return;
    if (event.kind === 'member') {
      if (event.id === current.membership.id) recheckDue = true;
    } else if (backlog.push(event) > BACKLOG_MAX) {
      res.end();
      return;
    }
    void drain();
  });
  const heartbeat = setInterval(() => {
    res.write(': ping\n\n');
    recheckDue = true;
    void drain();
  }, deps.heartbeatMs);
  heartbeat.unref();
  let stopped = false;
  const cleanup = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(heartbeat);
    void stop();
  };
  res.on('close', cleanup);
  // The client may have gone while the subscription was being set up.
  if (res.destroyed) cleanup();
}

/** Whether the caller may see what an event names (runner reach decides for runs, runners and approvals). */
async function mayHear(
  { db, fleet }: Pick<EventStreamDeps, 'db' | 'fleet'>,
  access: AccountAccess,
  event: AccountEvent,
): Promise<boolean> {
  const reach = access.membership.runner_access;
  if (reach.mode === 'all' || event.kind === 'trust') return true;
  if (reach.mode === 'none') return false;
  const table = event.kind === 'approval' ? 'approval_requests' : 'runs';
  const runnerId =
    event.kind === 'runner'
      ? event.id
      : (
          await db
            .selectFrom(table)
            .select('runner_id')
            .where('id', '=', event.id)
            .where('account_id', '=', access.account.id)
            .executeTakeFirst()
        )?.runner_id;
  if (!runnerId || !UUID_PATTERN.test(runnerId)) return false;
  const runner = await fleet.findRunnerForDispatch(db, access.account.id, runnerId);
  return runner !== null && runnerInReach(reach, { id: runner.id, group: runner.group });
}
