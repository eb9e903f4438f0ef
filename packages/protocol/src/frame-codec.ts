import type { z } from 'zod';
import {
  type Member,
  membersOf,
  scanTopLevelMembers,
  unambiguousString,
} from './frame-envelope.js';
import { FRAME_SCHEMAS, type Frame, type FrameType, isFrameType } from './frames.js';
import { REQUEST_ID_PATTERN } from './ids.js';
import { isPlainObject, type JsonValue } from './json-value.js';
import { stringifyJson } from './json-writer.js';
import {
  ARGS_MAX_BYTES,
  JSON_MAX_DEPTH,
  PROTOCOL_VERSION,
  RUN_ACTION_FRAME_MAX_BYTES,
  RUNNER_STATE_MAX_BYTES,
} from './limits.js';
import { isDeclaredFieldName } from './schema-helpers.js';
import { readStrictJson, StrictJsonError } from './strict-json.js';
import { decodeUtf8, utf8ByteLength } from './utf8.js';

export type DecodedFrame =
  | {
      kind: 'frame';
      frame: Frame;
      /**
       * For run_action only: the exact text of `args` as received. Its UTF-8
       * encoding is the exact received bytes (the dispatch digest input).
       */
      rawArgs?: string;
    }
  /** A frame type this version does not know: ignore it (`type` is cut to 64 characters, for logs). */
  | { kind: 'ignored'; type: string }
  /** A known frame with a missing or different protocol_version: close the session with 1002. */
  | { kind: 'protocol_version' }
  | {
      kind: 'invalid';
      code: 'invalid_frame';
      /** The frame's type, when it is a known type and could be read unambiguously. */
      type?: FrameType;
      /**
       * The request id, when `type` is known and `request_id` could be read
       * unambiguously and is well-formed. A rejected run_action with one is
       * answered `action_result {failed, dispatch_invalid}`; otherwise `error invalid_frame`.
       */
      requestId?: string;
      /** Bounded; never echoes the input. */
      reason: string;
    };

export interface DecodeOptions {
  /** Hard bound checked before any parsing (FRAME_MAX_BYTES suits both ends). */
  maxBytes: number;
}

/** Bounds that depend on the frame type, checked once the type is known. */
const TYPE_MAX_BYTES: Partial<Record<FrameType, number>> = {
  run_action: RUN_ACTION_FRAME_MAX_BYTES,
  runner_state: RUNNER_STATE_MAX_BYTES,
};

const REASON_MAX_LENGTH = 200;
const IGNORED_TYPE_MAX_LENGTH = 64;

/**
 * Decodes one WebSocket text frame (the caller rejects binary frames). Pass the
 * text message's bytes as received when you have them: they are checked as
 * strict UTF-8 here.
 */
export function decodeFrame(raw: string | Uint8Array, opts: DecodeOptions): DecodedFrame {
  const size = typeof raw === 'string' ? utf8ByteLength(raw) : raw.byteLength;
  if (size > opts.maxBytes) return invalid(`frame exceeds ${opts.maxBytes} bytes`);
  const text = typeof raw === 'string' ? raw : decodeUtf8(raw);
  if (text === undefined) return invalid('invalid UTF-8');

  let parsed: ReturnType<typeof readStrictJson>;
  try {
    parsed = readStrictJson(text, { maxDepth: JSON_MAX_DEPTH });
  } catch (err) {
    if (!(err instanceof StrictJsonError)) throw err;
    const members = scanTopLevelMembers(text);
    return invalid(`JSON ${err.code} at char ${err.offset}`, members && identify(members));
  }
  const { value } = parsed;
  if (!isPlainObject(value)) return invalid('frame is not a JSON object');

  const members = membersOf(value);
  const type = unambiguousString(members, 'type');
  if (type === undefined) return invalid('missing or ambiguous type');
  if (!isFrameType(type)) return { kind: 'ignored', type: type.slice(0, IGNORED_TYPE_MAX_LENGTH) };
  const identity = identify(members);
  if (value.protocol_version !== PROTOCOL_VERSION) return { kind: 'protocol_version' };

  const typeMax = TYPE_MAX_BYTES[type];
  if (typeMax !== undefined && size > typeMax) {
    return invalid(`${type} exceeds ${typeMax} bytes`, identity);
  }
  const result = (FRAME_SCHEMAS[type] as z.ZodType<Frame>).safeParse(value);
  if (!result.success) return invalid(describeIssue(result.error.issues[0]), identity);

  if (result.data.type !== 'run_action') return { kind: 'frame', frame: result.data };
  const span = parsed.topLevelSpans.get('args')!;
  const rawArgs = text.slice(span.start, span.end);
  if (utf8ByteLength(rawArgs) > ARGS_MAX_BYTES) {
    return invalid(`args exceeds ${ARGS_MAX_BYTES} bytes`, identity);
  }
  return { kind: 'frame', frame: result.data, rawArgs };
}

/**
 * Validates a frame and writes it as JSON text with protocol_version 1 (exact
 * numbers kept). Throws TypeError for a frame its schema refuses and
 * RangeError for one over its size limit: both are bugs in the sender.
 */
export function encodeFrame(frame: Frame): string {
  if (!isFrameType(frame.type)) throw new TypeError('unknown frame type');
  const result = (FRAME_SCHEMAS[frame.type] as z.ZodType<Frame>).safeParse(frame);
  if (!result.success) {
    throw new TypeError(`invalid ${frame.type} frame: ${describeIssue(result.error.issues[0])}`);
  }
  const { type, ...rest } = result.data;
  const text = stringifyJson({
    type,
    protocol_version: PROTOCOL_VERSION,
    ...(rest as Record<string, JsonValue>),
  });
  const max = TYPE_MAX_BYTES[type];
  if (max !== undefined && utf8ByteLength(text) > max) {
    throw new RangeError(`${type} frame exceeds ${max} bytes`);
  }
  return text;
}

type Identity = { type?: FrameType; requestId?: string };

function identify(members: readonly Member[]): Identity {
  const type = unambiguousString(members, 'type');
  if (type === undefined || !isFrameType(type)) return {};
  const requestId = unambiguousString(members, 'request_id');
  return requestId !== undefined && REQUEST_ID_PATTERN.test(requestId)
    ? { type, requestId }
    : { type };
}

function invalid(reason: string, identity: Identity = {}): DecodedFrame {
  return {
    kind: 'invalid',
    code: 'invalid_frame',
    ...identity,
    reason: reason.slice(0, REASON_MAX_LENGTH),
  };
}

/** `path: issue` with only declared field names and indexes in the path, so no input leaks. */
function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid frame';
  const path = issue.path
    .map((part) =>
      typeof part === 'number'
        ? `[${part}]`
        : typeof part === 'string' && isDeclaredFieldName(part)
          ? `.${part}`
          : '.*',
    )
    .join('')
    .replace(/^\./, '');
  // Only our own custom messages are fixed text; zod's describe the input's type and value.
  const what = issue.code === 'custom' ? issue.message : issue.code;
  return path === '' ? what : `${path}: ${what}`;
}
