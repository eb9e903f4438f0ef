import { z } from 'zod';
import { EVENT_ID_PATTERN } from './ids.js';
import {
  DEGRADED_PACK_REASON_MAX_BYTES,
  ERROR_MESSAGE_MAX_LENGTH,
  EXECUTED_COMMAND_MAX_BYTES,
  PROGRESS_CHUNK_MAX_BYTES,
  REFUSED_ACTION_REASON_MAX_BYTES,
  REFUSED_ACTIONS_MAX,
} from './limits.js';
import {
  countSchema,
  fields,
  jsonObjectSchema,
  jsonValueSchema,
  maxUtf8Bytes,
  packHashSchema,
  positiveIntSchema,
  requestIdSchema,
  sha256HexSchema,
} from './schema-helpers.js';

export const ACTION_KINDS = ['exec', 'script'] as const;
export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export const OUTPUT_PARSERS = ['text', 'json'] as const;
export const STREAMS = ['stdout', 'stderr'] as const;

export const ACTION_RESULT_STATUSES = [
  'success',
  'failed',
  'error',
  'validation_failed',
  'unknown_action',
  'timed_out',
  'blocked_by_admission',
  'cancelled',
  'pack_hash_mismatch',
  'signature_invalid',
] as const;

/** The reasons a runner puts on results it synthesises itself. */
export const ACTION_RESULT_REASONS = [
  'dispatch_invalid',
  'dispatch_reservation_failed',
  'dispatch_id_conflict',
  'execution_outcome_unknown',
  'cancelled_before_start',
  'engine_error',
] as const;

export const SHUTDOWN_REASONS = [
  'runner_disabled',
  'account_disabled',
  'cloud_shutdown',
  'runner_revoked',
  'runner_version_unsupported',
] as const;

/** After these the runner stops instead of reconnecting. */
export const TERMINAL_SHUTDOWN_REASONS = ['runner_revoked', 'runner_version_unsupported'] as const;

/** Error codes with a defined meaning, each with its fixed message (messages never echo input). */
export const FRAME_ERROR_MESSAGES = {
  invalid_frame: 'frame rejected',
  concurrency_cap_reached: 'runner is at its concurrent action limit',
  finalize_failed: 'server could not store the result',
} as const;
export type FrameErrorCode = keyof typeof FRAME_ERROR_MESSAGES;

export type ActionKind = (typeof ACTION_KINDS)[number];
export type Risk = (typeof RISKS)[number];
export type Stream = (typeof STREAMS)[number];
export type ActionResultStatus = (typeof ACTION_RESULT_STATUSES)[number];
export type ActionResultReason = (typeof ACTION_RESULT_REASONS)[number];
export type ShutdownReason = (typeof SHUTDOWN_REASONS)[number];

function frame<const Type extends string, Shape extends z.ZodRawShape>(type: Type, shape: Shape) {
  return fields({ type: z.literal(type), ...shape }, ['protocol_version']);
}

/** Integer nanoseconds; a safe integer covers 104 days, well past any action timeout. */
const nanosecondsSchema = positiveIntSchema;

export const ActionDescriptorSchema = fields({
  id: z.string().min(1),
  pack_id: z.string().min(1),
  title: z.string(),
  summary: z.string(),
  kind: z.enum(ACTION_KINDS),
  risk: z.enum(RISKS),
  description: z.string(),
  side_effects: z.array(z.string()),
  search_terms: z.array(z.string()),
  /** As declared in the pack, verbatim: the packs package owns their shape. */
  args: z.array(jsonObjectSchema),
  examples: z.array(fields({ title: z.string(), args: jsonObjectSchema })),
  primary_executable_available: z.boolean(),
  missing_executable: z.string().optional(),
  limits: fields({
    default_timeout: nanosecondsSchema,
    timeout_min: nanosecondsSchema,
    timeout_max: nanosecondsSchema,
  }),
  output: fields({
    parser: z.enum(OUTPUT_PARSERS),
    max_stdout_bytes: positiveIntSchema,
    max_stdout_bytes_min: positiveIntSchema,
    max_stdout_bytes_max: positiveIntSchema,
    max_stderr_bytes: positiveIntSchema,
    max_stderr_bytes_min: positiveIntSchema,
    max_stderr_bytes_max: positiveIntSchema,
    schema: jsonObjectSchema.optional(),
  }),
  /** Our addition: what will execute, so a person trusting the pack sees it. */
  execution: fields({
    binary: z.string().min(1),
    /** The argv templates as declared, unrendered. */
    argv: z.array(z.string()),
    env_keys: z.array(z.string()),
    cwd: z.string().min(1),
    user: z.string().min(1).optional(),
    interpreter: z.string().min(1).optional(),
    script_path: z.string().min(1).optional(),
    script_sha256: sha256HexSchema.optional(),
  }),
  /**
   * Our addition: a critical action that breaks the interpreter rule, advertised
   * only because this host named it in `admission.break_glass`.
   */
  break_glass: z.literal(true).optional(),
});
export type ActionDescriptor = z.infer<typeof ActionDescriptorSchema>;

/** Our addition: an action this runner loaded but will not run, with the rule that refuses it. */
export const RefusedActionSchema = fields({
  id: z.string().min(1).max(128),
  pack_id: z.string().min(1),
  reason: maxUtf8Bytes(REFUSED_ACTION_REASON_MAX_BYTES),
});
export type RefusedActionEntry = z.infer<typeof RefusedActionSchema>;

export const RunnerStateFrameSchema = frame('runner_state', {
  version: z.string().min(1),
  hostname: z.string().min(1),
  group: z.string(),
  labels: z.record(z.string(), z.string()),
  enforce_signatures: z.boolean(),
  signing_ca_ids: z.array(z.string()),
  max_attestation_age_seconds: countSchema,
  degraded_packs: z.array(
    fields({ pack: z.string(), reason: maxUtf8Bytes(DEGRADED_PACK_REASON_MAX_BYTES) }),
  ),
  packs: z.record(z.string(), fields({ version: z.string().min(1), hash: packHashSchema })),
  actions: z.array(ActionDescriptorSchema),
  /** Our addition (absent when none): refused by local admission or at load, never advertised. */
  refused_actions: z.array(RefusedActionSchema).max(REFUSED_ACTIONS_MAX).optional(),
});

export const RunActionFrameSchema = frame('run_action', {
  request_id: requestIdSchema,
  operation_id: z.string().min(1).max(255),
  action_id: z.string().min(1).max(128),
  expected_pack_hash: packHashSchema,
  /** `<pack id>@<version>/sha256:<hex>`. */
  pack_ref: z
    .string()
    .max(255)
    .regex(/^[^@/\s]+@[^@/\s]+\/sha256:[0-9a-f]{64}$/),
  /** Kept by reference with exact numbers; its exact received text is DecodedFrame.rawArgs. */
  args: jsonObjectSchema,
  reason: z.string().min(1),
  /** Requested overrides; the runner clamps each into the action's bounds. */
  opts: fields({
    timeout: nanosecondsSchema.optional(),
    max_stdout_bytes: positiveIntSchema.optional(),
    max_stderr_bytes: positiveIntSchema.optional(),
  }).optional(),
  /** Signed dispatch (a later version); carried verbatim. */
  attestation: jsonObjectSchema.optional(),
});

export const ActionStartedFrameSchema = frame('action_started', { request_id: requestIdSchema });

export const ActionProgressFrameSchema = frame('action_progress', {
  request_id: requestIdSchema,
  seq: positiveIntSchema,
  stream: z.enum(STREAMS),
  data: maxUtf8Bytes(PROGRESS_CHUNK_MAX_BYTES),
});

export const ActionResultFrameSchema = frame('action_result', {
  request_id: requestIdSchema,
  status: z.enum(ACTION_RESULT_STATUSES),
  /** null when no process exited (refused, never started, outcome unknown). */
  exit_code: z.int().nullable(),
  duration_ms: countSchema,
  reason: z.enum(ACTION_RESULT_REASONS).optional(),
  stdout_sha256: sha256HexSchema,
  stdout_bytes: countSchema,
  stderr_sha256: sha256HexSchema,
  stderr_bytes: countSchema,
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  progress_chunks: countSchema,
  dropped_progress_chunks: countSchema,
  redactions: z.array(fields({ name: z.string(), type: z.string(), count: countSchema })),
  /** Masked. */
  executed_command: maxUtf8Bytes(EXECUTED_COMMAND_MAX_BYTES),
  executed_command_truncated: z.boolean(),
  structured_output: jsonValueSchema.optional(),
  event_id: z.string().regex(EVENT_ID_PATTERN).optional(),
  local_audit_failed: z.boolean().optional(),
});

export const AckResultFrameSchema = frame('ack_result', { request_id: requestIdSchema });
export const HeartbeatFrameSchema = frame('heartbeat', {});
export const CancelFrameSchema = frame('cancel', { request_id: requestIdSchema });
export const ShutdownFrameSchema = frame('shutdown', { reason: z.enum(SHUTDOWN_REASONS) });

export const ErrorFrameSchema = frame('error', {
  /** Open set: FRAME_ERROR_MESSAGES lists the codes with a defined meaning. */
  code: z
    .string()
    .max(64)
    .regex(/^[a-z][a-z0-9_]*$/),
  request_id: requestIdSchema.optional(),
  message: z.string().max(ERROR_MESSAGE_MAX_LENGTH),
});

export type RunnerStateFrame = z.infer<typeof RunnerStateFrameSchema>;
export type RunActionFrame = z.infer<typeof RunActionFrameSchema>;
export type ActionStartedFrame = z.infer<typeof ActionStartedFrameSchema>;
export type ActionProgressFrame = z.infer<typeof ActionProgressFrameSchema>;
export type ActionResultFrame = z.infer<typeof ActionResultFrameSchema>;
export type AckResultFrame = z.infer<typeof AckResultFrameSchema>;
export type HeartbeatFrame = z.infer<typeof HeartbeatFrameSchema>;
export type CancelFrame = z.infer<typeof CancelFrameSchema>;
export type ShutdownFrame = z.infer<typeof ShutdownFrameSchema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;

/** Frames a runner sends. */
export type RunnerFrame =
  | RunnerStateFrame
  | ActionStartedFrame
  | ActionProgressFrame
  | ActionResultFrame
  | HeartbeatFrame
  | ErrorFrame;
/** Frames the control plane sends. */
export type ServerFrame =
  | RunActionFrame
  | AckResultFrame
  | CancelFrame
  | ShutdownFrame
  | ErrorFrame;
export type Frame = RunnerFrame | ServerFrame;
export type FrameType = Frame['type'];

export const FRAME_SCHEMAS = {
  runner_state: RunnerStateFrameSchema,
  run_action: RunActionFrameSchema,
  action_started: ActionStartedFrameSchema,
  action_progress: ActionProgressFrameSchema,
  action_result: ActionResultFrameSchema,
  ack_result: AckResultFrameSchema,
  heartbeat: HeartbeatFrameSchema,
  cancel: CancelFrameSchema,
  shutdown: ShutdownFrameSchema,
  error: ErrorFrameSchema,
} as const satisfies { [T in FrameType]: z.ZodType<Extract<Frame, { type: T }>> };

export const FRAME_TYPES = Object.keys(FRAME_SCHEMAS) as FrameType[];

export function isFrameType(type: string): type is FrameType {
  return Object.hasOwn(FRAME_SCHEMAS, type);
}
