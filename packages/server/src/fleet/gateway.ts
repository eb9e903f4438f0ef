import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { PublishedCatalog } from '../catalog/index.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../core/tx.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import { createRunnerLeases, type RunnerLeases } from './leases.js';
import {
  type ConnectionContext,
  type GatewayLog,
  LiveConnection,
  QUEUE_HIGH,
} from './live-connection.js';
import { LocalConnections } from './local-connections.js';
import type { RunHooks } from './run-hooks.js';
import { decodeRunnerControl, RUNNER_CONTROL_CHANNEL } from './runner-control.js';
import { RunnerErrorTally } from './runner-error-tally.js';
import { createFrameHandler, type SocketData } from './runner-frames.js';
import { ingestRunnerState } from './runner-state.js';
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
  /** The published catalog: its hashes are trusted on first sighting. */
  catalog: PublishedCatalog;
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
  const { db, clock, bus, runHooks, log } = deps;
  const ingest = { catalog: deps.catalog, clock, bus };
  const runnerErrors = new RunnerErrorTally(log);
  const context: ConnectionContext = { log, runHooks, timing: deps.timing };
  const leases = createRunnerLeases({
    db,
    clock,
    bus,
    nodeId: randomUUID(),
    leaseMs: deps.timing.runnerLeaseMs,
  });
  const onMessage = createFrameHandler({
    runHooks,
    log,
    runnerErrors,
    ingestState: (conn, frame) => ingestRunnerState(db, ingest, conn, frame),
    renewLease: (conn) => leases.renew(conn),
  });
  const local = new LocalConnections((conn) => closed(conn, { leases, runHooks, log }));
  const unsubscribes: (() => Promise<void>)[] = [];

  function onControl(payload: string): void {
    const control = decodeRunnerControl(payload);
    const conn = control && local.get(control.runnerId);
    if (!control || !conn) return;
    if (control.kind === 'shutdown') conn.shutdown(control.reason);
    else if (conn.generation !== 0 && conn.generation < control.generation) conn.supersede();
  }

  return {
    async start() {
      unsubscribes.push(await bus.subscribe(RUNNER_CONTROL_CHANNEL, onControl));
      unsubscribes.push(
        await bus.subscribe(RUNNER_WORK_CHANNEL, (id) => local.get(id)?.requestDelivery()),
      );
      // Work announced while the bus was down went unheard: look for it on every socket.
      const stopResume = bus.onResume(() => {
        for (const conn of local.all()) conn.requestDelivery();
      });
      unsubscribes.push(async () => stopResume());
    },

    async accept(socket, runner) {
      const conn = new LiveConnection(socket, runner, context);
      local.track(conn);
      // Frames that arrive before the lease is taken wait in the queue.
      const early: [SocketData, boolean][] = [];
      socket.on('message', (data, isBinary) => {
        if (conn.generation !== 0) onMessage(conn, data as Buffer, isBinary);
        else if (early.push([data as Buffer, isBinary]) > QUEUE_HIGH) socket.terminate();
      });
      conn.armSilenceTimer();
      const generation = await takeLease(conn, leases, log);
      if (generation === null) return;
      conn.generation = generation;
      local.adopt(conn);
      for (const [data, isBinary] of early.splice(0)) onMessage(conn, data, isBinary);
    },

    async stop() {
      for (const unsubscribe of unsubscribes.splice(0)) await unsubscribe().catch(() => {});
      for (const conn of local.all()) conn.shutdown('cloud_shutdown', CLOSE_GOING_AWAY);
      await local.settle(STOP_GRACE_MS);
    },

    localRunnerIds: () => local.runnerIds(),
    runnerErrorCounts: (runnerId) => runnerErrors.countsOf(runnerId),
  };
}

/** The connection's generation, or null when it is closing (refused or failed). */
async function takeLease(
  conn: LiveConnection,
  leases: RunnerLeases,
  log: GatewayLog,
): Promise<number | null> {
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

/** A closed socket releases its lease and tells the runs domain. */
async function closed(
  conn: LiveConnection,
  { leases, runHooks, log }: { leases: RunnerLeases; runHooks: RunHooks; log: GatewayLog },
): Promise<void> {
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
