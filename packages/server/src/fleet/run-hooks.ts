import type {
  ActionProgressFrame,
  ActionResultFrame,
  ActionStartedFrame,
  ErrorFrame,
  ServerFrame,
} from '@emisar/protocol';

/** One live runner socket, as the runs domain sees it. */
export interface RunnerConnection {
  runnerId: string;
  accountId: string;
  /** The connection generation; work claimed under an older one is not sent on a newer socket. */
  generation: number;
  /** False when the socket is already gone (the frame was not sent). */
  send(frame: ServerFrame): boolean;
}

/**
 * What the runner gateway asks of the runs domain. The gateway owns sockets,
 * authentication and frame decoding; the runs domain owns every run row.
 */
export interface RunHooks {
  /** After connect (and `runner_state`) and on every `runner_work` notification for this runner. */
  deliverPending(connection: RunnerConnection): Promise<void>;
  actionStarted(connection: RunnerConnection, frame: ActionStartedFrame): Promise<void>;
  actionProgress(connection: RunnerConnection, frame: ActionProgressFrame): Promise<void>;
  /**
   * 'ack' once the result is durable (or was a duplicate / foreign id); else the
   * runner re-sends once. Throws a database connection error, which closes the socket.
   */
  actionResult(
    connection: RunnerConnection,
    frame: ActionResultFrame,
  ): Promise<'ack' | 'finalize_failed'>;
  runnerError(connection: RunnerConnection, frame: ErrorFrame): Promise<void>;
  connectionClosed(connection: RunnerConnection): Promise<void>;
}
