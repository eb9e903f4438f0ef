/** Wire protocol version 1 limits and timings (spec/wire-protocol.md). */

export const PROTOCOL_VERSION = 1;

const KiB = 1024;
const MiB = 1024 * KiB;

export const RUN_ACTION_FRAME_MAX_BYTES = 128 * KiB;
/** Exact bytes of the `args` object as received. */
export const ARGS_MAX_BYTES = 32 * KiB;
export const JSON_MAX_DEPTH = 64;
export const RUNNER_STATE_MAX_BYTES = 2 * MiB;
/** The largest frame of any type; a sensible `maxBytes` for decodeFrame on either end. */
export const FRAME_MAX_BYTES = RUNNER_STATE_MAX_BYTES;
export const PROGRESS_CHUNK_MAX_BYTES = 64 * KiB;
export const EXECUTED_COMMAND_MAX_BYTES = 16 * KiB;
export const DEGRADED_PACK_REASON_MAX_BYTES = 500;
/** A refused action's reason in runner_state, and how many a runner lists. */
export const REFUSED_ACTION_REASON_MAX_BYTES = 500;
export const REFUSED_ACTIONS_MAX = 1024;
export const ERROR_MESSAGE_MAX_LENGTH = 1024;
export const MAX_CONCURRENT_ACTIONS = 8;
export const REQUEST_ID_MAX_LENGTH = 64;

export const HEARTBEAT_INTERVAL_MS = 30_000;
/** The server closes a socket that has been silent this long. */
export const SERVER_HEARTBEAT_TIMEOUT_MS = 90_000;
/** A connection's lease on its runner, renewed on every heartbeat. */
export const CONNECTION_LEASE_MS = 120_000;
export const RECONNECT_MIN_MS = 1_000;
export const RECONNECT_MAX_MS = 60_000;

/** Close code for a protocol error (e.g. a known frame with a wrong protocol_version). */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** Close code and reason for a connection a newer one for the same runner replaced. */
export const CLOSE_SUPERSEDED = 4000;
export const CLOSE_SUPERSEDED_REASON = 'superseded';
/**
 * Close code and reason when the control plane could not store what the runner
 * sent (its database is unreachable): nothing on the socket was acknowledged,
 * so the runner reconnects with backoff and replays it.
 */
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_DATABASE_UNAVAILABLE_REASON = 'database_unavailable';
