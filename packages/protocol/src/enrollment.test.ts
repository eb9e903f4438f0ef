import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ENROLLMENT_ERROR_CODES,
  EnrollmentErrorBodySchema,
  RegisterRequestSchema,
  RunnerTokenResponseSchema,
} from './enrollment.js';
import { GOLDEN_ENROLLMENT_PATH } from './golden.js';
import { parseStrictJson } from './strict-json.js';

const golden = parseStrictJson(readFileSync(GOLDEN_ENROLLMENT_PATH)) as {
  register_request: Record<string, unknown>;
  token_response: Record<string, unknown>;
  error_bodies: Record<string, unknown>[];
};
const register = golden.register_request;

describe('enrollment bodies', () => {
  it('accept the golden examples, covering every error code', () => {
    expect(RegisterRequestSchema.parse(register)).toEqual(register);
    expect(RunnerTokenResponseSchema.parse(golden.token_response)).toEqual(golden.token_response);
    for (const body of golden.error_bodies)
      expect(EnrollmentErrorBodySchema.parse(body)).toEqual(body);
    expect(golden.error_bodies.map((b) => b.error).sort()).toEqual(
      [...ENROLLMENT_ERROR_CODES].sort(),
    );
  });

  it.each([
    ['empty', ''],
    ['256 characters', 'h'.repeat(256)],
    ['leading whitespace', ' db-1'],
    ['trailing newline', 'db-1\n'],
    ['not a string', 7],
  ])('refuse an external_id that is %s', (_name, external_id) => {
    expect(RegisterRequestSchema.safeParse({ ...register, external_id }).success).toBe(false);
  });

  it('accept a 255-character external_id, no group, and ignore unknown fields', () => {
    const { group: _group, ...rest } = register;
    const parsed = RegisterRequestSchema.parse({
      ...rest,
      external_id: 'h'.repeat(255),
      os: 'linux',
    });
    expect(parsed).not.toHaveProperty('os');
    expect(parsed.group).toBeUndefined();
  });

  it('refuse a case variant of a field', () => {
    expect(RegisterRequestSchema.safeParse({ ...register, External_ID: 'other' }).success).toBe(
      false,
    );
  });

  it('refuse a token that is not a runner token, or a refresh time without a zone', () => {
    const ok = golden.token_response;
    expect(RunnerTokenResponseSchema.safeParse({ ...ok, token: 'emk-abc' }).success).toBe(false);
    expect(
      RunnerTokenResponseSchema.safeParse({ ...ok, refresh_after: '2025-09-14 08:30' }).success,
    ).toBe(false);
  });

  it('keep the extra fields of a flat error body and require its code', () => {
    expect(EnrollmentErrorBodySchema.parse({ error: 'runner_exists', hint: 'x' })).toEqual({
      error: 'runner_exists',
      hint: 'x',
    });
    expect(EnrollmentErrorBodySchema.safeParse({ message: 'no code' }).success).toBe(false);
  });
});
