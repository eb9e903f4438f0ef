import type { ActionDefinition } from '@emisar/packs';
import { describe, expect, it } from 'vitest';
import { parseStructuredOutput } from './structured-output.js';

const action = (schema?: object) =>
  ({ output: { parser: 'json', parserRequired: true, schema } }) as unknown as ActionDefinition;

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'status'],
  properties: { name: { type: 'string', pattern: '^[a-z]+$' }, status: { const: 'ok' } },
};

describe('parseStructuredOutput', () => {
  it('accepts one JSON object that matches the schema', () => {
    expect(
      parseStructuredOutput(action(SCHEMA), '{"name":"alice","status":"ok"}\n', false),
    ).toEqual({
      value: { name: 'alice', status: 'ok' },
    });
  });

  it.each([
    ['a schema mismatch', '{"name":"Alice!","status":"ok"}', false, 'output_schema_mismatch'],
    ['an extra property', '{"name":"a","status":"ok","x":1}', false, 'output_schema_mismatch'],
    ['invalid JSON', '{"name":', false, 'output_invalid_json'],
    ['a duplicate key', '{"name":"a","name":"b","status":"ok"}', false, 'output_invalid_json'],
    ['an array at the top', '[1]', false, 'output_invalid_json'],
    ['truncated output', '{"name":"a","status":"ok"}', true, 'output_truncated'],
    ['more than 8 KiB', `{"name":"${'a'.repeat(9000)}","status":"ok"}`, false, 'output_too_large'],
    ['more than 16 levels', `${'{"a":'.repeat(17)}1${'}'.repeat(17)}`, false, 'output_too_complex'],
  ])('refuses %s', (_what, text, truncated, error) => {
    expect(parseStructuredOutput(action(SCHEMA), text, truncated).error).toBe(error);
  });
});
