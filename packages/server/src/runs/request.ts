import { parseDuration } from '@emisar/packs';
import {
  approverTextProblem,
  ExactNumber,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  parseStrictJson,
  reasonProblem,
  reasonRuleMessage,
  StrictJsonError,
  textLength,
} from '@emisar/protocol';
import { InvalidParamsError } from '../core/errors.js';

/** `POST …/runs` as read from the exact request bytes (numbers exact, duplicate keys refused). */
export interface CreateRunBody {
  runner: string;
  actionId: string;
  packRef: string | undefined;
  args: JsonObject;
  reason: string;
  evidence: string | null;
  expected: string | null;
  opts: RunOpts | null;
}

export interface RunOpts {
  timeout?: number;
  max_stdout_bytes?: number;
  max_stderr_bytes?: number;
}

const FIELDS = new Set([
  'runner',
  'action_id',
  'pack_ref',
  'args',
  'reason',
  'evidence',
  'expected',
  'opts',
]);
const OPTS = new Set(['timeout', 'max_stdout_bytes', 'max_stderr_bytes']);
const EVIDENCE_MAX = 4000;
const EXPECTED_MAX = 2000;
const BODY_MAX_BYTES = 256 * 1024;

export function parseCreateRunBody(raw: Buffer | string | undefined): CreateRunBody {
  if (raw === undefined || raw.length === 0)
    throw new InvalidParamsError('The JSON body is empty.');
  let value: JsonValue;
  try {
    value = parseStrictJson(raw, { maxBytes: BODY_MAX_BYTES });
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    throw new InvalidParamsError(`The body is not valid JSON (${error.code}).`, 'invalid_json');
  }
  if (!isJsonObject(value)) throw new InvalidParamsError('The body must be a JSON object.');
  for (const key of Object.keys(value)) {
    if (!FIELDS.has(key)) throw new InvalidParamsError(`Unknown field: ${key.slice(0, 64)}.`);
  }
  const runner = requiredString(value, 'runner', 255);
  const actionId = requiredString(value, 'action_id', 128);
  const packRef = optionalString(value, 'pack_ref', 255) ?? undefined;
  if (!isJsonObject(value.args)) throw new InvalidParamsError('args must be a JSON object.');
  const reason = value.reason;
  if (typeof reason !== 'string')
    throw new InvalidParamsError('reason is required.', 'invalid_reason');
  return {
    runner,
    actionId,
    packRef,
    args: value.args,
    reason,
    evidence: optionalString(value, 'evidence', Number.POSITIVE_INFINITY),
    expected: optionalString(value, 'expected', Number.POSITIVE_INFINITY),
    opts: readOpts(value.opts),
  };
}

/**
 * The caller's reason, evidence and expectation, shown to approvers: the reason
 * needs REASON_MIN_VISIBLE visible characters, and none of the three may carry
 * a bidi control that makes it read other than it is stored.
 */
export function checkReasonFields(body: CreateRunBody): void {
  const badReason = reasonProblem(body.reason);
  if (badReason) {
    throw new InvalidParamsError(reasonRuleMessage(badReason), 'invalid_reason');
  }
  checkFreeText('evidence', body.evidence, EVIDENCE_MAX);
  checkFreeText('expected', body.expected, EXPECTED_MAX);
}

function checkFreeText(name: string, text: string | null, max: number): void {
  if (text === null) return;
  if (textLength(text) > max) {
    throw new InvalidParamsError(`${name} is longer than ${max} characters.`);
  }
  const problem = approverTextProblem(text);
  if (problem) throw new InvalidParamsError(`${name} ${problem}.`);
}

function requiredString(body: JsonObject, name: string, max: number): string {
  const value = body[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidParamsError(`${name} must be a string of 1 to ${max} characters.`);
  }
  return value;
}

function optionalString(body: JsonObject, name: string, max: number): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > max) {
    throw new InvalidParamsError(`${name} must be a string.`);
  }
  return value;
}

/** Requested overrides; `timeout` is integer nanoseconds or a duration like `30s`. */
function readOpts(value: JsonValue | undefined): RunOpts | null {
  if (value === undefined || value === null) return null;
  if (!isJsonObject(value)) throw new InvalidParamsError('opts must be an object.');
  const opts: RunOpts = {};
  for (const [key, item] of Object.entries(value)) {
    if (!OPTS.has(key)) throw new InvalidParamsError(`Unknown option: ${key.slice(0, 64)}.`);
    let number: number | undefined;
    if (key === 'timeout' && typeof item === 'string') {
      const ns = parseDuration(item);
      number = ns === undefined ? undefined : Number(ns);
    } else if (typeof item === 'number') number = item;
    else if (item instanceof ExactNumber) number = undefined;
    if (number === undefined || !Number.isSafeInteger(number) || number <= 0) {
      throw new InvalidParamsError(`opts.${key} must be a positive integer.`);
    }
    opts[key as keyof RunOpts] = number;
  }
  return Object.keys(opts).length > 0 ? opts : null;
}

/** A duration parameter such as `10s`, in milliseconds (at most a day). */
export function durationMs(text: string, name: string): number {
  const ns = parseDuration(text);
  if (ns === undefined || ns < 0n || ns > 86_400_000_000_000n) {
    throw new InvalidParamsError(`${name} must be a duration such as 10s.`);
  }
  return Number(ns / 1_000_000n);
}
