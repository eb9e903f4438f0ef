import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../core/tx.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import { createRunnerLeases } from './leases.js';
import {
  type ConnectionContext,
  type GatewayLog,
  LiveConnection,
  QUEUE_HIGH,
} from './live-connection.js';
import type { RunHooks } from './run-hooks.js';
import { decodeRunnerControl, RUNNER_CONTROL_CHANNEL } from './runner-control.js';
import { RunnerErrorTally } from './runner-error-tally.js';
import { createFrameHandler, type SocketData } from './runner-frames.js';
import { type IngestDeps, ingestRunnerState } from './runner-state.js';
import { RUNNER_WORK_CHANNEL } from './runner-work.js';
import type { TimingConfig } from './timing.js';
import type { AuthenticatedRunner } from './tokens.js';

const CLOSE_GOING_AWAY = 1001;
const CLOSE_INTERNAL_ERROR = 1011;
/** How long stop() waits for runners to finish the close handshake. */
const STOP_GRACE_MS = 2000;

export interface GatewayDeps {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  runHooks: RunHooks;
  ingest: IngestDeps;
  timing: Pick<TimingConfig, 'heartbeatTimeoutMs' | 'runnerLeaseMs'>;
  log: GatewayLog;
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
  const { db, bus, runHooks, log } = deps;
  const live = new Map<string, LiveConnection>();
  const runnerErrors = new RunnerErrorTally(log);
  const context: ConnectionContext = { log, runHooks, timing: deps.timing };
  const leases = createRunnerLeases({
    db,
    clock: deps.clock,
    bus,
    nodeId: randomUUID(),
    leaseMs: deps.timing.runnerLeaseMs,
  });
  const onMessage = createFrameHandler({
    runHooks,
    log,
    runnerErrors,
    ingestState: (conn, frame) => ingestRunnerState(db, deps.ingest, conn, frame),
    renewLease: (conn) => leases.renew(conn),
  });
  const unsubscribes: (() => Promise<void>)[] = [];
  /** Settles once the socket closed and its lease was released. */
  const finished = new Map<LiveConnection, Promise<void>>();

  function onControl(payload: string): void {
    const control = decodeRunnerControl(payload);
    const conn = control && live.get(control.runnerId);
    if (!control || !conn) return;
    if (control.kind === 'shutdown') conn.shutdown(control.reason);
    else if (conn.generation !== 0 && conn.generation < control.generation) conn.supersede();
  }

  async function onClose(conn: LiveConnection): Promise<void> {
    conn.closed = true;
    conn.stopTimers();
    if (live.get(conn.runnerId) === conn) live.delete(conn.runnerId);
    if (conn.generation === 0) return;
    try {
      await leases.release(conn);
    } catch (error) {
      log.error({ err: error, runner_id: conn.runnerId }, 'releasing a runner lease failed');
    }
    try {
      await runHooks.connectionClosed(conn);
    } catch (error) {
      log.error({ err: error, runner_id: conn.runnerId }, 'connectionClosed failed');
    }
  }

  /** Tracks the socket until it closed and its lease was released. */
  function track(conn: LiveConnection): void {
    const done = new Promise<void>((resolve) => {
      conn.socket.on('close', () => {
        onClose(conn).finally(() => {
          finished.delete(conn);
          resolve();
        });
      });
    });
    finished.set(conn, done);
  }

  /** The connection's generation, or null when it is closing (refused or failed). */
  async function claim(conn: LiveConnection): Promise<number | null> {
    try {
      const generation = await leases.claim(conn);
      if (generation === null && !conn.closed) conn.shutdown('runner_disabled');
      return conn.closed ? null : generation;
    } catch (error) {
      if (isDatabaseUnavailable(error)) conn.dropForOutage(error);
      else {
        log.error({ err: error, runner_id: conn.runnerId }, 'taking the runner lease failed');
        conn.closeReason = 'internal';
        conn.socket.close(CLOSE_INTERNAL_ERROR, 'internal');
      }
      return null;
    }
  }

  /** The newest generation of a runner on this node keeps it; older ones close. */
  function adopt(conn: LiveConnection): void {
    const older = live.get(conn.runnerId);
    if (older && older.generation < conn.generation) older.supersede();
    if (!older || older.generation < conn.generation) live.set(conn.runnerId, conn);
    else conn.supersede();
  }

  return {
    async start() {
      unsubscribes.push(await bus.subscribe(RUNNER_CONTROL_CHANNEL, onControl));
      unsubscribes.push(
        await bus.subscribe(RUNNER_WORK_CHANNEL, (id) => live.get(id)?.requestDelivery()),
      );
      // Work announced while the bus was down went unheard: look for it on every socket.
      const stopResume = bus.onResume(() => {
        for (const conn of live.values()) conn.requestDelivery();
      });
      unsubscribes.push(async () => stopResume());
    },

    async accept(socket, runner) {
      const conn = new LiveConnection(socket, runner, context);
      track(conn);
      // Frames that arrive before the lease is taken wait in the queue.
      const early: [SocketData, boolean][] = [];
      socket.on('message', (data, isBinary) => {
        if (conn.generation !== 0) onMessage(conn, data as Buffer, isBinary);
        else if (early.push([data as Buffer, isBinary]) > QUEUE_HIGH) socket.terminate();
      });
      conn.armSilenceTimer();
      const generation = await claim(conn);
      if (generation === null) return;
      conn.generation = generation;
      adopt(conn);
      for (const [data, isBinary] of early.splice(0)) onMessage(conn, data, isBinary);
    },

    async stop() {
      for (const unsubscribe of unsubscribes.splice(0)) await unsubscribe().catch(() => {});
      for (const conn of live.values()) conn.shutdown('cloud_shutdown', CLOSE_GOING_AWAY);
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
