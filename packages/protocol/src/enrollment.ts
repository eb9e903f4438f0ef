import { z } from 'zod';
import { CREDENTIAL_PREFIXES } from './ids.js';
import { fields } from './schema-helpers.js';

/** `runner.id` or the hostname: 1–255 characters with no surrounding whitespace. */
export const ExternalIdSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => s.trim() === s, { message: 'surrounding whitespace' });

/**
 * `POST /runner/register` body. Check `external_id` with ExternalIdSchema first:
 * a bad one is answered `invalid_external_id` without consuming the key.
 */
export const RegisterRequestSchema = fields({
  external_id: ExternalIdSchema,
  hostname: z.string().min(1).max(255),
  /** Absent when the host declares none (the key's pinned group, else `default`, applies). */
  group: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()),
  version: z.string().min(1),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

/** Success body of `POST /runner/register` (201) and `POST /runner/token/refresh` (200). */
export const RunnerTokenResponseSchema = fields({
  token: z.string().startsWith(CREDENTIAL_PREFIXES.runnerToken),
  /** RFC 3339 timestamp after which the runner should refresh. */
  refresh_after: z.iso.datetime({ offset: true }),
});
export type RunnerTokenResponse = z.infer<typeof RunnerTokenResponseSchema>;

export const ENROLLMENT_ERROR_CODES = [
  'invalid_external_id',
  'enrollment_key_invalid',
  'runner_limit_exceeded',
  'runner_name_taken',
  'runner_exists',
  'group_mismatch',
  'not_due',
  'token_expired',
  'token_invalid',
  'runner_disabled',
  'account_disabled',
] as const;
export type EnrollmentErrorCode = (typeof ENROLLMENT_ERROR_CODES)[number];

/**
 * The flat error shape of the enrollment endpoints, `{"error": "<code>", …extra}`
 * (e.g. runner_limit_exceeded adds plan and limit; runner_name_taken and
 * runner_exists add the name and a hint on picking another). Codes stay an open string so
 * a runner can read codes added later; extra fields are kept.
 */
export const EnrollmentErrorBodySchema = z.looseObject({
  error: z.string().min(1),
  plan: z.string().optional(),
  limit: z.int().nonnegative().optional(),
  name: z.string().optional(),
  hint: z.string().optional(),
});
export type EnrollmentErrorBody = z.infer<typeof EnrollmentErrorBodySchema>;
