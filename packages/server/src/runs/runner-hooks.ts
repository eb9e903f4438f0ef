import {
  type ActionProgressFrame,
  type ActionResultFrame,
  type ActionStartedFrame,
  type ErrorFrame,
  MAX_CONCURRENT_ACTIONS,
  type RunActionFrame,
  type ServerFrame,
  stringifyJson,
} from '@emisar/protocol';
import type { Kysely, Updateable } from 'kysely';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { Tx } from '../core/tx.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries, RunHooks, RunnerConnection } from '../fleet/index.js';
import { notifyRunnerWork } from '../fleet/index.js';
import { createArgsBox, openArgs } from './args.js';
import { appendRunEvents, countRunnerChunks, hasRunnerSeq } from './run-events.js';
import type { RunStatus, RunsTable } from './tables.js';
import { isTerminal } from './tables.js';
import { lockRun, type RunRow, runnerActor, transitionRun } from './transitions.js';

export interface RunHooksDeps {
  db: Kysely<Database>;
  fleet: Pick<FleetQueries, 'runnerPresence'>;
  bus: NotifyBus;
  clock: Clock;
  secretKey: Buffer;
  /** SENT_DEADLINE: a run sent with no `action_started` this long is sent again. */
  sentDeadlineMs: number;
  log?: { warn(fields: object, message: string): void };
}

/** Runner statuses the control plane stores as `refused`, keeping the runner's word as the reason. */
const REFUSALS: ReadonlySet<string> = new Set([
  'blocked_by_admission',
  'pack_hash_mismatch',
  'signature_invalid',
]);

/** How the runs domain answers the runner gateway (see fleet/run-hooks.ts). */
// A factory of short hooks and helpers; only the whole is long.
export function createRunHooks(deps: RunHooksDeps): RunHooks {
  const box = createArgsBox(deps.secretKey);
  const now = () => deps.clock.now().toISOString();

  /** Runs of this connection's runner, or nothing for a foreign or unknown request id. */
  const lockOwnRun = async (
    trx: Tx,
    connection: RunnerConnection,
    requestId: string,
  ): Promise<RunRow | undefined> => {
    const run = await lockRun(trx, { requestId });
    if (!run || run.runner_id !== connection.runnerId || run.account_id !== connection.accountId) {
      return undefined;
    }
    return run;
  };

  const runActionFrame = (run: RunRow): RunActionFrame => ({
    type: 'run_action',
    request_id: run.request_id,
    operation_id: run.operation_id,
    action_id: run.action_id,
    expected_pack_hash: run.expected_pack_hash,
    pack_ref: run.pack_ref,
    args: openArgs(box, run.args_ciphertext!, run.request_id),
    reason: run.reason,
    ...(run.opts ? { opts: run.opts } : {}),
  });

  /**
   * What this connection should be sent for one open run, recorded before it
   * is sent: a pending run while slots are free, a sent run again when the
   * connection changed or it waited past SENT_DEADLINE, a cancel not yet sent.
   */
  const claimFrame = async (
    trx: Tx,
    connection: RunnerConnection,
    run: RunRow,
    delivery: { at: string; redeliverBefore: string; slots: number },
  ): Promise<ServerFrame | null> => {
    const { at } = delivery;
    if (run.status === 'pending' && delivery.slots > 0 && run.args_ciphertext) {
      delivery.slots -= 1;
      const frame = runActionFrame(run);
      await transitionRun(trx, deps.bus, run, {
        to: 'sent',
        patch: {
          sent_at: at,
          delivery_generation: connection.generation,
          delivery_count: run.delivery_count + 1,
        },
        actor: runnerActor(run),
        detail: { generation: connection.generation },
        now: at,
      });
      return frame;
    }
    if (
      run.status === 'sent' &&
      run.args_ciphertext &&
      (run.delivery_generation !== connection.generation ||
        (run.sent_at !== null && run.sent_at <= delivery.redeliverBefore))
    ) {
      // Same request id and operation id: the runner drops a copy of a run it holds.
      const frame = runActionFrame(run);
      await setRun(trx, run.id, {
        sent_at: at,
        delivery_generation: connection.generation,
        delivery_count: run.delivery_count + 1,
        updated_at: at,
      });
      return frame;
    }
    if (
      run.status === 'cancelling' &&
      run.delivery_generation !== null &&
      run.cancel_sent_generation !== connection.generation
    ) {
      await setRun(trx, run.id, { cancel_sent_generation: connection.generation, updated_at: at });
      return { type: 'cancel', request_id: run.request_id };
    }
    return null;
  };

  return {
    async deliverPending(connection) {
      const at = now();
      const redeliverBefore = new Date(
        deps.clock.now().getTime() - deps.sentDeadlineMs,
      ).toISOString();
      const frames = await deps.db.transaction().execute(async (trx) => {
        // A superseded connection claims nothing (its successor delivers).
        const presence = await deps.fleet.runnerPresence(
          trx,
          connection.accountId,
          connection.runnerId,
        );
        if (presence?.connectionGeneration !== connection.generation) return [];
        const open = await lockOpenRuns(trx, connection);
        const inFlight = open.filter((r) => r.status !== 'pending').length;
        const delivery = {
          at,
          redeliverBefore,
          slots: Math.max(0, MAX_CONCURRENT_ACTIONS - inFlight),
        };
        const claimed: ServerFrame[] = [];
        for (const run of open) {
          const frame = await claimFrame(trx, connection, run, delivery);
          if (frame) claimed.push(frame);
        }
        return claimed;
      });
      for (const frame of frames) {
        if (!connection.send(frame)) break;
      }
    },

    async actionStarted(connection, frame: ActionStartedFrame) {
      const at = now();
      await deps.db.transaction().execute(async (trx) => {
        const run = await lockOwnRun(trx, connection, frame.request_id);
        if (!run || run.started_at !== null || isTerminal(run.status)) return;
        if (run.status === 'cancelling') {
          await setRun(trx, run.id, { started_at: at, updated_at: at });
          await publishAccountEvent(deps.bus, trx, {
            accountId: run.account_id,
            kind: 'run',
            id: run.id,
          });
          return;
        }
        await transitionRun(trx, deps.bus, run, {
          to: 'running',
          patch: { started_at: at },
          actor: runnerActor(run),
          now: at,
        });
      });
    },

    async actionProgress(connection, frame: ActionProgressFrame) {
      const at = now();
      await deps.db.transaction().execute(async (trx) => {
        const run = await lockOwnRun(trx, connection, frame.request_id);
        if (!run || (await hasRunnerSeq(trx, run.id, frame.seq))) return;
        const stored = await appendRunEvents(
          trx,
          run,
          [{ kind: 'progress', stream: frame.stream, runnerSeq: frame.seq, payload: frame.data }],
          at,
        );
        if (stored > 0) {
          await publishAccountEvent(deps.bus, trx, {
            accountId: run.account_id,
            kind: 'run_output',
            id: run.id,
          });
        }
      });
    },

    async actionResult(connection, frame: ActionResultFrame) {
      const at = now();
      let finalised: RunRow | undefined;
      try {
        await deps.db.transaction().execute(async (trx) => {
          const run = await lockOwnRun(trx, connection, frame.request_id);
          // Unknown or foreign id, or a duplicate: acked and ignored.
          if (!run || isTerminal(run.status)) return;
          const held = await countRunnerChunks(trx, run.id);
          const refused = REFUSALS.has(frame.status);
          const status: RunStatus = refused ? 'refused' : (frame.status as RunStatus);
          const patch: Updateable<RunsTable> = {
            finished_at: at,
            exit_code: frame.exit_code,
            duration_ms: frame.duration_ms,
            stdout_sha256: frame.stdout_sha256,
            stdout_bytes: frame.stdout_bytes,
            stderr_sha256: frame.stderr_sha256,
            stderr_bytes: frame.stderr_bytes,
            stdout_truncated: frame.stdout_truncated,
            stderr_truncated: frame.stderr_truncated,
            progress_chunks: frame.progress_chunks,
            dropped_progress_chunks: frame.dropped_progress_chunks,
            output_complete:
              held >= frame.progress_chunks &&
              frame.dropped_progress_chunks === 0 &&
              run.events_dropped === 0,
            structured_output:
              frame.structured_output === undefined ? null : stringifyJson(frame.structured_output),
            executed_command: frame.executed_command,
            executed_command_truncated: frame.executed_command_truncated,
            redactions: JSON.stringify(frame.redactions),
            runner_event_id: frame.event_id ?? null,
            local_audit_failed: frame.local_audit_failed ?? false,
            ...(status === 'cancelled' ? { cancelled_at: at } : {}),
          };
          finalised = await transitionRun(trx, deps.bus, run, {
            to: status,
            statusReason: refused ? frame.status : (frame.reason ?? null),
            patch,
            actor: runnerActor(run),
            detail: { exit_code: frame.exit_code, duration_ms: frame.duration_ms },
            now: at,
          });
        });
      } catch (error) {
        // The gateway closes the socket instead; the runner replays progress and result.
        if (isDatabaseUnavailable(error)) throw error;
        deps.log?.warn({ err: error, requestId: frame.request_id }, 'run result not stored');
        return 'finalize_failed';
      }
      // A slot on this runner is free: queued work may go now.
      if (finalised) await notifyRunnerWork(deps.bus, deps.db, connection.runnerId);
      return 'ack';
    },

    async runnerError(connection, frame: ErrorFrame) {
      if (frame.code !== 'concurrency_cap_reached' || !frame.request_id) return;
      const at = now();
      const requestId = frame.request_id;
      await deps.db.transaction().execute(async (trx) => {
        const run = await lockOwnRun(trx, connection, requestId);
        if (run?.status !== 'sent' || run.started_at !== null) return;
        // Not a failure: the run waits for a free slot (the next result from this runner).
        await transitionRun(trx, deps.bus, run, {
          to: 'pending',
          statusReason: null,
          patch: { sent_at: null, delivery_generation: null },
          actor: runnerActor(run),
          detail: { requeued: 'concurrency_cap_reached' },
          now: at,
        });
      });
    },

    async connectionClosed() {
      // Nothing to do at once: sent runs are redelivered on the next connection
      // or settled by the dispatch-timeout sweep.
    },
  };
}

const setRun = (trx: Tx, runId: string, set: Updateable<RunsTable>) =>
  trx.updateTable('runs').set(set).where('id', '=', runId).execute();

/** The runner's undelivered and in-flight runs, oldest first, locked (others' locks skipped). */
function lockOpenRuns(trx: Tx, connection: RunnerConnection) {
  return trx
    .selectFrom('runs')
    .selectAll()
    .where('runner_id', '=', connection.runnerId)
    .where('account_id', '=', connection.accountId)
    .where('status', 'in', ['pending', 'sent', 'cancelling', 'running'])
    .orderBy('queued_at')
    .orderBy('id')
    .forUpdate()
    .skipLocked()
    .execute();
}
