import type { Selectable, Updateable } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor, AuditContext } from '../core/actor.js';
import type { Tx } from '../core/tx.js';
import { appendRunEvents } from './run-events.js';
import { isTerminal, type RunStatus, type RunsTable } from './tables.js';

export type RunRow = Selectable<RunsTable>;

/** Reads a run and locks its row for the rest of the transaction. */
export async function lockRun(
  trx: Tx,
  where: { id: string } | { requestId: string },
): Promise<RunRow | undefined> {
  let query = trx.selectFrom('runs').selectAll();
  query =
    'id' in where
      ? query.where('id', '=', where.id)
      : query.where('request_id', '=', where.requestId);
  return query.forUpdate().executeTakeFirst();
}

export interface TransitionInput {
  to: RunStatus;
  statusReason?: string | null;
  /** Other columns to set with the status. */
  patch?: Updateable<RunsTable>;
  actor: AuditActor;
  context?: AuditContext;
  /** Extra audit payload fields. */
  detail?: Record<string, string | number | boolean | null>;
  now: string;
}

/**
 * Moves a locked run to a new status: the row, a `transition` event, the
 * `run.<status>` audit event and the live `run` event, all in the caller's
 * transaction. A terminal status drops the sealed arguments.
 */
export async function transitionRun(
  trx: Tx,
  bus: NotifyBus,
  run: RunRow,
  input: TransitionInput,
): Promise<RunRow> {
  const terminal = isTerminal(input.to);
  const statusReason = input.statusReason === undefined ? run.status_reason : input.statusReason;
  const set: Updateable<RunsTable> = {
    ...input.patch,
    status: input.to,
    status_reason: statusReason,
    updated_at: input.now,
    ...(terminal
      ? { args_ciphertext: null, finished_at: input.patch?.finished_at ?? input.now }
      : {}),
  };
  await trx.updateTable('runs').set(set).where('id', '=', run.id).execute();
  const next = { ...run, ...set } as RunRow;
  await appendRunEvents(
    trx,
    next,
    [
      {
        kind: 'transition',
        payload: JSON.stringify({ from: run.status, to: input.to, status_reason: statusReason }),
      },
    ],
    input.now,
  );
  await recordAuditEvent(trx, {
    accountId: run.account_id,
    eventType: `run.${input.to}`,
    actor: input.actor,
    target: { kind: 'run', id: run.id, label: run.action_id },
    payload: {
      request_id: run.request_id,
      action_id: run.action_id,
      runner_id: run.runner_id,
      pack_ref: run.pack_ref,
      from: run.status,
      status_reason: statusReason,
      ...input.detail,
    },
    ...(input.context ? { context: input.context } : {}),
  });
  await publishAccountEvent(bus, trx, { accountId: run.account_id, kind: 'run', id: run.id });
  return next;
}

export const runnerActor = (run: Pick<RunRow, 'runner_id' | 'runner_ref'>): AuditActor => ({
  kind: 'runner',
  id: run.runner_id,
  label: run.runner_ref,
});
