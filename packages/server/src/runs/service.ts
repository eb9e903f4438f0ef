import type { ServerResponse } from 'node:http';
import { type Kysely, sql } from 'kysely';
import type { ApprovalService } from '../approvals/index.js';
import { subscribeAccountEvents } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { CatalogQueries } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { KeysetPosition } from '../core/keyset-cursor.js';
import { UUID_PATTERN } from '../core/parse-input.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries } from '../fleet/index.js';
import { notifyRunnerWork } from '../fleet/index.js';
import type { DecidePolicy } from '../policy/index.js';
import { createArgsBox } from './args.js';
import { type CreateRunInput, createRun, createRuns } from './create.js';
import { type EventStreamDeps, streamAccountEvents } from './event-stream.js';
import { isTerminal, type RunStatus } from './tables.js';
import { lockRun, type RunRow, transitionRun } from './transitions.js';

export interface RunServiceDeps {
  db: Kysely<Database>;
  bus: NotifyBus;
  clock: Clock;
  secretKey: Buffer;
  approvals: Pick<
    ApprovalService,
    'openApprovalRequest' | 'cancelApprovalForRun' | 'takeStandingGrant'
  >;
  decidePolicy: DecidePolicy;
  fleet: Pick<FleetQueries, 'findRunnerForDispatch' | 'refusedAction' | 'runnerIdsInGroups'>;
  catalog: Pick<CatalogQueries, 'resolveDispatchContract'>;
}

export type RunService = ReturnType<typeof createRunService>;

/** Creating, reading, listing and cancelling runs, and the live event stream. */
// A factory of short methods; only the whole is long.
export function createRunService(deps: RunServiceDeps) {
  const { db, bus, clock } = deps;
  const box = createArgsBox(deps.secretKey);
  const create = (input: CreateRunInput) => createRun({ ...deps, box }, input);
  /** Runs of one fan-out, recorded in one transaction. */
  const createMany = (inputs: readonly CreateRunInput[]) => createRuns({ ...deps, box }, inputs);

  /** A run the caller may see: in the account and on a runner in their reach. */
  async function findVisible(access: AccountAccess, runId: string): Promise<RunRow> {
    if (!UUID_PATTERN.test(runId)) throw new NotFoundError();
    const row = await visibleRuns(deps, access)
      .selectAll('r')
      .where('r.id', '=', runId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError();
    return row;
  }

  /**
   * The run, after waiting up to `waitMs` for it to be terminal. Woken by the
   * run's live event, which arrives from whichever node changed it.
   */
  async function get(
    access: AccountAccess,
    runId: string,
    waitMs = 0,
    /** The caller went away: stop waiting. */
    signal?: AbortSignal,
  ): Promise<RunRow> {
    let run = await findVisible(access, runId);
    if (isTerminal(run.status) || waitMs <= 0) return run;
    let wake = () => {};
    let changed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const stop = await subscribeAccountEvents(bus, (event) => {
      if (event.kind === 'run' && event.id === runId) wake();
    });
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        // Read after subscribing: a change in between is never missed.
        run = await findVisible(access, runId);
        const remaining = deadline - Date.now();
        if (isTerminal(run.status) || remaining <= 0 || signal?.aborted) return run;
        let timer: NodeJS.Timeout | undefined;
        signal?.addEventListener('abort', () => wake(), { once: true });
        await Promise.race([
          changed,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, remaining);
          }),
        ]);
        clearTimeout(timer);
        changed = new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      await stop();
    }
  }

  /** Output chunks after `afterSeq`, in order; `next_after_seq` continues the read. */
  async function output(access: AccountAccess, runId: string, afterSeq: number, limit: number) {
    const run = await findVisible(access, runId);
    const chunks = await db
      .selectFrom('run_events')
      .select(['seq', 'stream', 'payload', 'created_at'])
      .where('run_id', '=', run.id)
      .where('kind', '=', 'progress')
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return {
      run_id: run.id,
      status: run.status,
      chunks: chunks.map((c) => ({
        seq: c.seq,
        stream: c.stream,
        data: c.payload,
        at: c.created_at,
      })),
      next_after_seq: chunks.at(-1)?.seq ?? afterSeq,
      /** No more chunks will come: the run is terminal and this page reached the end. */
      done: isTerminal(run.status) && chunks.length < limit,
      output_complete: run.output_complete,
    };
  }

  async function list(access: AccountAccess, filters: RunListFilters) {
    let query = visibleRuns(deps, access).selectAll('r');
    if (filters.status) query = query.where('r.status', '=', filters.status);
    if (filters.runnerId) query = query.where('r.runner_id', '=', filters.runnerId);
    if (filters.runner) {
      const named = await deps.fleet.findRunnerForDispatch(
        deps.db,
        access.account.id,
        filters.runner,
      );
      if (!named) return { runs: [], next: null };
      query = query.where('r.runner_id', '=', named.id);
    }
    if (filters.actionId) query = query.where('r.action_id', '=', filters.actionId);
    if (filters.packRef) query = query.where('r.pack_ref', '=', filters.packRef);
    if (filters.operationId) {
      query = query.where('r.operation_id', 'like', `${filters.operationId}/%`);
    }
    if (filters.apiKeyIds) {
      if (filters.apiKeyIds.length === 0) return { runs: [], next: null };
      query = query.where('r.api_key_id', 'in', filters.apiKeyIds);
    }
    if (filters.before) {
      const { at, id } = filters.before;
      query = query.where((eb) =>
        eb.or([
          eb('r.queued_at', '<', at),
          eb.and([eb('r.queued_at', '=', at), eb('r.id', '<', id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('r.queued_at', 'desc')
      .orderBy('r.id', 'desc')
      .limit(filters.limit + 1)
      .execute();
    const page = rows.slice(0, filters.limit);
    const last = page.at(-1);
    return {
      runs: page,
      next: rows.length > filters.limit && last ? { at: last.queued_at, id: last.id } : null,
    };
  }

  /**
   * Cancel: a run not yet delivered ends at once (its approval request too);
   * a delivered one becomes `cancelling` and the runner is sent `cancel`.
   */
  async function cancel(
    access: AccountAccess,
    context: RequestContext,
    runId: string,
  ): Promise<RunRow> {
    await findVisible(access, runId);
    const now = clock.now().toISOString();
    const run = await db.transaction().execute(async (trx) => {
      const locked = await lockRun(trx, { id: runId });
      if (!locked || locked.account_id !== access.account.id) throw new NotFoundError();
      if (isTerminal(locked.status)) {
        throw new ConflictError('This run has already finished.', 'run_finished');
      }
      if (locked.status === 'cancelling') return locked;
      const common = { actor: access.actor, context, now };
      if (locked.status === 'pending' || locked.status === 'pending_approval') {
        if (locked.status === 'pending_approval') {
          await deps.approvals.cancelApprovalForRun(trx, locked.id);
        }
        return transitionRun(trx, bus, locked, {
          ...common,
          to: 'cancelled',
          statusReason: null,
          patch: { cancel_requested_at: now, cancelled_at: now },
        });
      }
      return transitionRun(trx, bus, locked, {
        ...common,
        to: 'cancelling',
        patch: { cancel_requested_at: now, cancel_sent_generation: null },
      });
    });
    if (run.status === 'cancelling') await notifyRunnerWork(bus, db, run.runner_id);
    return run;
  }

  /** Writes the account's live events to an open SSE response until it closes. */
  const streamEvents = (
    access: AccountAccess,
    res: ServerResponse,
    options: Pick<EventStreamDeps, 'log' | 'heartbeatMs'>,
  ) => streamAccountEvents({ db, clock, bus, fleet: deps.fleet, ...options }, access, res);

  return { create, createMany, get, output, list, cancel, streamEvents };
}

export interface RunListFilters {
  status?: RunStatus | undefined;
  runnerId?: string | undefined;
  /** A runner by its id, ref or name. */
  runner?: string | undefined;
  actionId?: string | undefined;
  packRef?: string | undefined;
  /** Runs of one fanned-out operation: their operation ids are `<operationId>/<runner ref>`. */
  operationId?: string | undefined;
  /** Only runs created with one of these API keys. */
  apiKeyIds?: readonly string[] | undefined;
  before?: KeysetPosition | undefined;
  limit: number;
}

/** The account's runs on runners inside the caller's runner reach. */
function visibleRuns({ db, fleet }: Pick<RunServiceDeps, 'db' | 'fleet'>, access: AccountAccess) {
  const reach = access.membership.runner_access;
  let query = db.selectFrom('runs as r').where('r.account_id', '=', access.account.id);
  if (reach.mode === 'none') return query.where(sql<boolean>`false`);
  if (reach.mode === 'restricted') {
    query = query.where((eb) =>
      eb.or([
        ...(reach.runner_ids.length > 0 ? [eb('r.runner_id', 'in', reach.runner_ids)] : []),
        ...(reach.groups.length > 0
          ? [eb('r.runner_id', 'in', fleet.runnerIdsInGroups(db, access.account.id, reach.groups))]
          : []),
        eb.val(false),
      ]),
    );
  }
  return query;
}
