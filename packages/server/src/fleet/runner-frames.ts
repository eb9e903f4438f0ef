import {
  type ActionResultFrame,
  CLOSE_PROTOCOL_ERROR,
  decodeFrame,
  FRAME_ERROR_MESSAGES,
  FRAME_MAX_BYTES,
  type RunnerFrame,
  type RunnerStateFrame,
} from '@emisar/protocol';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { GatewayLog, LiveConnection } from './live-connection.js';
import type { RunHooks } from './run-hooks.js';
import type { RunnerErrorTally } from './runner-error-tally.js';
import type { IngestOutcome } from './runner-state.js';

export type SocketData = Buffer | ArrayBuffer | Buffer[];

export interface FrameHandlerDeps {
  runHooks: RunHooks;
  log: GatewayLog;
  runnerErrors: RunnerErrorTally;
  ingestState(conn: LiveConnection, frame: RunnerStateFrame): Promise<IngestOutcome>;
  renewLease(conn: LiveConnection): Promise<boolean>;
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

/**
 * What a runner socket receives: each message is decoded at once (refusals
 * answered at once) and each valid frame queued on its connection.
 */
export function createFrameHandler(deps: FrameHandlerDeps) {
  const { runHooks, log } = deps;

  async function runnerState(conn: LiveConnection, frame: RunnerStateFrame): Promise<void> {
    const outcome = await deps.ingestState(conn, frame);
    if (outcome.status === 'superseded') return conn.supersede();
    if (outcome.status === 'too_large') return conn.refuseFrame();
    if (outcome.groupIgnored) {
      log.warn({ runner_id: conn.runnerId }, 'runner asserted another group; ignored');
    }
    conn.stateIngested = true;
    conn.requestDelivery();
  }

  async function actionResult(conn: LiveConnection, frame: ActionResultFrame): Promise<void> {
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
  }

  async function handleFrame(conn: LiveConnection, frame: RunnerFrame): Promise<void> {
    if (!conn.current()) return;
    switch (frame.type) {
      case 'runner_state':
        return runnerState(conn, frame);
      case 'heartbeat':
        if (!(await deps.renewLease(conn))) conn.supersede();
        return;
      case 'action_started':
        return runHooks.actionStarted(conn, frame);
      case 'action_progress':
        return runHooks.actionProgress(conn, frame);
      case 'action_result':
        return actionResult(conn, frame);
      case 'error':
        if (frame.code !== 'concurrency_cap_reached') deps.runnerErrors.record(conn, frame);
        return runHooks.runnerError(conn, frame);
    }
  }

  return function onMessage(conn: LiveConnection, data: SocketData, isBinary: boolean): void {
    conn.armSilenceTimer();
    if (!conn.current()) return; // frames on a superseded connection are rejected
    const frame = readFrame(conn, data, isBinary);
    if (frame) conn.enqueue(() => handleFrame(conn, frame));
  };
}

/** The message as a runner frame; null when it was refused or ignored (answered here). */
function readFrame(conn: LiveConnection, data: SocketData, isBinary: boolean): RunnerFrame | null {
  if (isBinary) {
    conn.refuseFrame();
    return null;
  }
  const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  const decoded = decodeFrame(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), {
    maxBytes: FRAME_MAX_BYTES,
  });
  switch (decoded.kind) {
    case 'ignored':
      return null;
    case 'protocol_version':
      conn.closeReason = 'protocol_version';
      conn.socket.close(CLOSE_PROTOCOL_ERROR, 'protocol_version');
      return null;
    case 'invalid':
      // An invalid error frame is not answered with another error (no ping-pong).
      if (decoded.type !== 'error') conn.refuseFrame();
      return null;
    case 'frame':
      if (isRunnerFrame(decoded.frame)) return decoded.frame;
      conn.refuseFrame();
      return null;
  }
}
