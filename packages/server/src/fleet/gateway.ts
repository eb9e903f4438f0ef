import { randomUUID } from 'node:crypto';
import {
  CLOSE_DATABASE_UNAVAILABLE_REASON,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_SUPERSEDED,
  CLOSE_SUPERSEDED_REASON,
  CLOSE_TRY_AGAIN_LATER,
  decodeFrame,
  encodeFrame,
  FRAME_ERROR_MESSAGES,
  FRAME_MAX_BYTES,
  type RunnerFrame,
  type ServerFrame,
  type ShutdownReason,
} from '@emisar/protocol';
import type { Kysely } from 'kysely';
import type { WebSocket } from 'ws';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import { type IngestDeps, ingestRunnerState } from '../catalog/ingest.js';
import type { Clock } from '../core/clock.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { Database } from '../db/schema.js';
import type { RunHooks, RunnerConnection } from './run-hooks.js';
import { RunnerErrorTally } from './runner-error-tally.js';
import { RUNNER_WORK_CHANNEL } from './runner-work.js';
import type { TimingConfig } from './timing.js';
import type { AuthenticatedRunner } from './tokens.js';

/** Cross-node control of runner sockets: `<kind>:<runner id>[:<generation>]`. */
export const RUNNER_CONTROL_CHANNEL = 'runner_control';

export type RunnerControl =
  /** A newer connection (on any node) took the runner: close older ones with 4000. */
  | { kind: 'superseded'; runnerId: string; generation: number }
  /** Send `shutdown {reason}` and close. */
  | { kind: 'shutdown'; runnerId: string; reason: ShutdownReason };

export function encodeRunnerControl(control: RunnerControl): string {
  return control.kind === 'superseded'
    ? `superseded:${control.runnerId}:${control.generation}`
    : `shutdown:${control.runnerId}:${control.reason}`;
}

function decodeRunnerControl(payload: string): RunnerControl | null {
  const [kind, runnerId, detail] = payload.split(':');
  if (!runnerId || !detail) return null;
  if (kind === 'superseded' && /^\d+$/.test(detail)) {
    return { kind, runnerId, generation: Number(detail) };
  }
  if (kind === 'shutdown') return { kind, runnerId, reason: detail as ShutdownReason };
  return null;
}

/**
 * Tells whichever node holds the runner's socket to send `shutdown {reason}`
 * and close it (delivered on commit when `executor` is a transaction).
 */
export async function notifyRunnerShutdown(
  bus: NotifyBus,
  executor: Kysely<Database>,
  runnerId: string,
  reason: ShutdownReason,
): Promise<void> {
  await bus.publish(
    executor,
    RUNNER_CONTROL_CHANNEL,
    encodeRunnerControl({ kind: 'shutdown', runnerId, reason }),
  );
}

/** For whoever disables an account: every runner of it gets `shutdown account_disabled`. */
export async function notifyAccountRunnersShutdown(
  bus: NotifyBus,
  executor: Kysely<Database>,
  accountId: string,
): Promise<void> {
  const runners = await executor
    .selectFrom('runners')
    .select('id')
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .where('lease_expires_at', 'is not', null)
    .execute();
  for (const { id } of runners) await notifyRunnerShutdown(bus, executor, id, 'account_disabled');
}

/** Close code for a socket silent longer than HEARTBEAT_TIMEOUT. */
export const CLOSE_HEARTBEAT_TIMEOUT = 4001;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_INTERNAL_ERROR = 1011;
/** How long stop() waits for runners to finish the close handshake. */
const STOP_GRACE_MS = 2000;
/** Pause reading a socket whose frames queue up beyond this; resume below the low mark. */
const QUEUE_HIGH = 64;
const QUEUE_LOW = 8;

export interface GatewayLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface GatewayDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  runHooks: RunHooks;
  ingest: IngestDeps;
  timing: Pick<TimingConfig, 'heartbeatTimeoutMs' | 'runnerLeaseMs'>;
  log: GatewayLog;
}

/** One accepted socket and the runner connection the runs domain sees. */
class LiveConnection implements RunnerConnection {
  readonly runnerId: string;
  readonly accountId: string;
  generation = 0;
  superseded = false;
  closed = false;
  /** The database failed under this connection: it is closing, the runner replays elsewhere. */
  dropped = false;
  stateIngested = false;
  closeReason = 'runner_closed';
  private queue: (() => Promise<void>)[] = [];
  private draining = false;
  private deliveryQueued = false;
  private silence: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly runner: AuthenticatedRunner,
    private readonly gateway: RunnerGatewayInternals,
  ) {
    this.runnerId = runner.runnerId;
    this.accountId = runner.accountId;
  }

  send(frame: ServerFrame): boolean {
    if (this.closed || this.superseded || this.socket.readyState !== this.socket.OPEN) return false;
    let text: string;
    try {
      text = encodeFrame(frame);
    } catch (error) {
      this.gateway.log.error(
        { err: error, frame: frame.type },
        'refusing to send an invalid frame',
      );
      return false;
    }
    this.socket.send(text);
    return true;
  }

  /** Frames and deliveries run one at a time, in arrival order. */
  enqueue(task: () => Promise<void>): void {
    this.queue.push(task);
    if (this.queue.length > QUEUE_HIGH) this.socket.pause();
    if (!this.draining) void this.drain();
  }

  requestDelivery(): void {
    if (this.deliveryQueued || !this.stateIngested) return;
    this.deliveryQueued = true;
    this.enqueue(async () => {
      this.deliveryQueued = false;
      if (this.current()) await this.gateway.runHooks.deliverPending(this);
    });
  }

  current(): boolean {
    return !this.closed && !this.superseded && !this.dropped;
  }

  /**
   * Closes the socket without handling anything more from it: what the runner
   * sent since cannot be stored, and the runner replays all it holds unacknowledged
   * on its next connection (the server dedups on request id and seq).
   */
  dropForOutage(error: unknown): void {
    if (!this.current()) return;
    this.dropped = true;
    this.closeReason = CLOSE_DATABASE_UNAVAILABLE_REASON;
    this.gateway.log.warn(
      { err: error, runner_id: this.runnerId },
      'database unavailable; closing the runner socket so the runner replays what it sent',
    );
    this.socket.close(CLOSE_TRY_AGAIN_LATER, CLOSE_DATABASE_UNAVAILABLE_REASON);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      const task = this.queue.shift()!;
      try {
        await task();
      } catch (error) {
        if (isDatabaseUnavailable(error)) this.dropForOutage(error);
        else
          this.gateway.log.error({ err: error, runner_id: this.runnerId }, 'runner frame failed');
      }
      if (this.queue.length < QUEUE_LOW && this.socket.isPaused) this.socket.resume();
    }
    this.draining = false;
  }

  armSilenceTimer(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      this.closeReason = 'heartbeat_timeout';
      this.socket.close(CLOSE_HEARTBEAT_TIMEOUT, 'heartbeat_timeout');
      // A half-open peer never answers the close handshake.
      setTimeout(() => this.socket.terminate(), 1000).unref();
    }, this.gateway.timing.heartbeatTimeoutMs);
    this.silence.unref();
  }

  stopTimers(): void {
    clearTimeout(this.silence);
  }
}

interface RunnerGatewayInternals {
  log: GatewayLog;
  runHooks: RunHooks;
  timing: GatewayDeps['timing'];
}

export interface RunnerGateway {
  /** Subscribes to the bus channels; call once before accepting sockets. */
  start(): Promise<void>;
  /** Takes the runner's lease (superseding any older connection anywhere) and serves the socket. */
  accept(socket: WebSocket, runner: AuthenticatedRunner): Promise<void>;
  /** Sends `shutdown cloud_shutdown` to every local runner and releases their leases. */
  stop(): Promise<void>;
  /** Runner ids with a live socket on this node. */
  localRunnerIds(): string[];
  /** `error` frames each runner sent to this node, by code (`concurrency_cap_reached` is back-pressure, not counted). */
  runnerErrorCounts(runnerId: string): Record<string, number>;
}

/**
 * The runner WebSocket gateway of one node. Connection ownership lives in
 * the database (generation + lease); the bus tells every node when a newer
 * connection, a disable or a delete concerns a socket it holds, and when a
 * runner it holds has work.
 */
export function createRunnerGateway(deps: GatewayDeps): RunnerGateway {
  const { db, clock, bus, runHooks, log } = deps;
  const nodeId = randomUUID();
  const live = new Map<string, LiveConnection>();
  const runnerErrors = new RunnerErrorTally(log);
  const internals: RunnerGatewayInternals = { log, runHooks, timing: deps.timing };
  const unsubscribes: (() => Promise<void>)[] = [];
  /** Settles once the socket closed and its lease was released. */
  const finished = new Map<LiveConnection, Promise<void>>();

  const leaseUntil = () =>
    new Date(clock.now().getTime() + deps.timing.runnerLeaseMs).toISOString();

  async function claim(conn: LiveConnection): Promise<number | null> {
    const now = clock.now().toISOString();
    return db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('runners')
        .set((eb) => ({
          connection_generation: eb('connection_generation', '+', 1),
          lease_node: nodeId,
          lease_expires_at: leaseUntil(),
          last_connected_at: now,
        }))
        .where('id', '=', conn.runnerId)
        .where('account_id', '=', conn.accountId)
        .where('deleted_at', 'is', null)
        .where('disabled_at', 'is', null)
        .returning('connection_generation')
        .executeTakeFirst();
      if (!row) return null;
      await bus.publish(
        trx,
        RUNNER_CONTROL_CHANNEL,
        encodeRunnerControl({
          kind: 'superseded',
          runnerId: conn.runnerId,
          generation: row.connection_generation,
        }),
      );
      await publishAccountEvent(bus, trx, {
        accountId: conn.accountId,
        kind: 'runner',
        id: conn.runnerId,
      });
      return row.connection_generation;
    });
  }

  /** Renews the lease; false when a newer connection holds the runner. */
  async function renewLease(conn: LiveConnection): Promise<boolean> {
    const row = await db
      .updateTable('runners')
      .set({ lease_expires_at: leaseUntil(), lease_node: nodeId })
      .where('id', '=', conn.runnerId)
      .where('account_id', '=', conn.accountId)
      .where('connection_generation', '=', conn.generation)
      .where('deleted_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async function release(conn: LiveConnection): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('runners')
        .set({
          lease_node: null,
          lease_expires_at: null,
          last_disconnected_at: clock.now().toISOString(),
          last_disconnect_reason: conn.closeReason,
        })
        .where('id', '=', conn.runnerId)
        .where('account_id', '=', conn.accountId)
        .where('connection_generation', '=', conn.generation)
        .returning('id')
        .executeTakeFirst();
      if (row) {
        await publishAccountEvent(bus, trx, {
          accountId: conn.accountId,
          kind: 'runner',
          id: conn.runnerId,
        });
      }
    });
  }

  function supersede(conn: LiveConnection): void {
    if (conn.superseded || conn.closed) return;
    conn.superseded = true;
    conn.closeReason = CLOSE_SUPERSEDED_REASON;
    conn.socket.close(CLOSE_SUPERSEDED, CLOSE_SUPERSEDED_REASON);
  }

  function shutdown(conn: LiveConnection, reason: ShutdownReason, code = 1000): void {
    conn.send({ type: 'shutdown', reason });
    conn.closeReason = reason;
    conn.socket.close(code, reason);
  }

  function onControl(payload: string): void {
    const control = decodeRunnerControl(payload);
    if (!control) return;
    const conn = live.get(control.runnerId);
    if (!conn) return;
    if (control.kind === 'superseded') {
      if (conn.generation !== 0 && conn.generation < control.generation) supersede(conn);
      return;
    }
    shutdown(conn, control.reason);
  }

  function onWork(runnerId: string): void {
    live.get(runnerId)?.requestDelivery();
  }

  async function handleFrame(conn: LiveConnection, frame: RunnerFrame): Promise<void> {
    if (!conn.current()) return;
    switch (frame.type) {
      case 'runner_state': {
        const outcome = await ingestRunnerState(db, deps.ingest, conn, frame);
        if (outcome.status === 'superseded') return supersede(conn);
        if (outcome.status === 'too_large') {
          conn.send({
            type: 'error',
            code: 'invalid_frame',
            message: FRAME_ERROR_MESSAGES.invalid_frame,
          });
          return;
        }
        if (outcome.groupIgnored) {
          log.warn({ runner_id: conn.runnerId }, 'runner asserted another group; ignored');
        }
        conn.stateIngested = true;
        conn.requestDelivery();
        return;
      }
      case 'heartbeat':
        if (!(await renewLease(conn))) supersede(conn);
        return;
      case 'action_started':
        return runHooks.actionStarted(conn, frame);
      case 'action_progress':
        return runHooks.actionProgress(conn, frame);
      case 'action_result': {
        let outcome: 'ack' | 'finalize_failed';
        try {
          outcome = await runHooks.actionResult(conn, frame);
        } catch (error) {
          // Not durable and not refused: the socket closes and the runner replays the result.
          if (isDatabaseUnavailable(error)) throw error;
          log.error({ err: error, runner_id: conn.runnerId }, 'storing a result failed');
          outcome = 'finalize_failed';
        }
        if (outcome === 'ack') conn.send({ type: 'ack_result', request_id: frame.request_id });
        else {
          conn.send({
            type: 'error',
            code: 'finalize_failed',
            request_id: frame.request_id,
            message: FRAME_ERROR_MESSAGES.finalize_failed,
          });
        }
        return;
      }
      case 'error':
        if (frame.code !== 'concurrency_cap_reached') runnerErrors.record(conn, frame);
        return runHooks.runnerError(conn, frame);
    }
  }

  function onMessage(
    conn: LiveConnection,
    data: Buffer | ArrayBuffer | Buffer[],
    isBinary: boolean,
  ) {
    conn.armSilenceTimer();
    if (!conn.current()) return; // frames on a superseded connection are rejected
    if (isBinary) {
      conn.send({
        type: 'error',
        code: 'invalid_frame',
        message: FRAME_ERROR_MESSAGES.invalid_frame,
      });
      return;
    }
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const decoded = decodeFrame(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), {
      maxBytes: FRAME_MAX_BYTES,
    });
    switch (decoded.kind) {
      case 'ignored':
        return;
      case 'protocol_version':
        conn.closeReason = 'protocol_version';
        conn.socket.close(CLOSE_PROTOCOL_ERROR, 'protocol_version');
        return;
      case 'invalid':
        // An invalid error frame is not answered with another error (no ping-pong).
        if (decoded.type !== 'error') {
          conn.send({
            type: 'error',
            code: 'invalid_frame',
            message: FRAME_ERROR_MESSAGES.invalid_frame,
          });
        }
        return;
      case 'frame': {
        const frame = decoded.frame;
        if (!isRunnerFrame(frame)) {
          conn.send({
            type: 'error',
            code: 'invalid_frame',
            message: FRAME_ERROR_MESSAGES.invalid_frame,
          });
          return;
        }
        conn.enqueue(() => handleFrame(conn, frame));
      }
    }
  }

  async function onClose(conn: LiveConnection): Promise<void> {
    conn.closed = true;
    conn.stopTimers();
    if (live.get(conn.runnerId) === conn) live.delete(conn.runnerId);
    if (conn.generation === 0) return;
    try {
      await release(conn);
    } catch (error) {
      log.error({ err: error, runner_id: conn.runnerId }, 'releasing a runner lease failed');
    }
    try {
      await runHooks.connectionClosed(conn);
    } catch (error) {
      log.error({ err: error, runner_id: conn.runnerId }, 'connectionClosed failed');
    }
  }

  return {
    async start() {
      unsubscribes.push(await bus.subscribe(RUNNER_CONTROL_CHANNEL, onControl));
      unsubscribes.push(await bus.subscribe(RUNNER_WORK_CHANNEL, onWork));
      // Work announced while the bus was down went unheard: look for it on every socket.
      const stopResume = bus.onResume(() => {
        for (const conn of live.values()) conn.requestDelivery();
      });
      unsubscribes.push(async () => stopResume());
    },

    async accept(socket, runner) {
      const conn = new LiveConnection(socket, runner, internals);
      finished.set(
        conn,
        new Promise<void>((resolve) => {
          socket.on('close', () => {
            onClose(conn).finally(() => {
              finished.delete(conn);
              resolve();
            });
          });
        }),
      );
      // Frames that arrive before the lease is taken wait in the queue.
      const early: [Buffer | ArrayBuffer | Buffer[], boolean][] = [];
      socket.on('message', (data, isBinary) => {
        if (conn.generation !== 0) onMessage(conn, data as Buffer, isBinary);
        else if (early.push([data as Buffer, isBinary]) > QUEUE_HIGH) socket.terminate();
      });
      conn.armSilenceTimer();
      let generation: number | null;
      try {
        generation = await claim(conn);
      } catch (error) {
        if (isDatabaseUnavailable(error)) conn.dropForOutage(error);
        else {
          log.error({ err: error, runner_id: runner.runnerId }, 'taking the runner lease failed');
          conn.closeReason = 'internal';
          socket.close(CLOSE_INTERNAL_ERROR, 'internal');
        }
        return;
      }
      if (conn.closed) return;
      if (generation === null) {
        shutdown(conn, 'runner_disabled');
        return;
      }
      conn.generation = generation;
      const older = live.get(runner.runnerId);
      if (older && older.generation < generation) supersede(older);
      if (!older || older.generation < generation) live.set(runner.runnerId, conn);
      else supersede(conn);
      for (const [data, isBinary] of early.splice(0)) onMessage(conn, data, isBinary);
    },

    async stop() {
      for (const unsubscribe of unsubscribes.splice(0)) await unsubscribe().catch(() => {});
      for (const conn of live.values()) shutdown(conn, 'cloud_shutdown', CLOSE_GOING_AWAY);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_GRACE_MS);
      });
      await Promise.race([Promise.all(finished.values()), grace]);
      clearTimeout(timer);
      // Sockets that did not finish the close handshake.
      for (const conn of finished.keys()) conn.socket.terminate();
      await Promise.all(finished.values());
    },

    localRunnerIds: () => [...live.keys()],
    runnerErrorCounts: (runnerId) => runnerErrors.countsOf(runnerId),
  };
}

const RUNNER_FRAME_TYPES: ReadonlySet<string> = new Set([
  'runner_state',
  'heartbeat',
  'action_started',
  'action_progress',
  'action_result',
  'error',
]);

function isRunnerFrame(frame: { type: string }): frame is RunnerFrame {
  return RUNNER_FRAME_TYPES.has(frame.type);
}
