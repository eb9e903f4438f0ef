import type { ActionDefinition } from '@emisar/packs';
import {
  ExactNumber,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  parseStrictJson,
} from '@emisar/protocol';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

const MAX_BYTES = 8 * 1024;
const MAX_DEPTH = 16;
const MAX_NODES = 1024;

export type StructuredOutcome = { value?: JsonObject; error?: string };

/**
 * `parser: json`: stdout (already redacted) must be one JSON object ≤ 8 KiB,
 * depth ≤ 16, ≤ 1024 nodes, no duplicate keys. The error names are the packs spec's.
 */
export function parseStructuredOutput(
  action: Pick<ActionDefinition, 'output'>,
  stdout: string,
  truncated: boolean,
): StructuredOutcome {
  if (truncated) return { error: 'output_truncated' };
  if (Buffer.byteLength(stdout) > MAX_BYTES) return { error: 'output_too_large' };
  let value: JsonValue;
  try {
    value = parseStrictJson(stdout.trim(), { maxDepth: MAX_DEPTH + 1 });
  } catch {
    return { error: 'output_invalid_json' };
  }
  if (!isJsonObject(value)) return { error: 'output_invalid_json' };
  if (depthAndNodes(value) === undefined) return { error: 'output_too_complex' };
  const schema = action.output.schema;
  if (schema !== undefined) {
    const validate = compiledSchema(schema);
    if (!validate) return { value, error: 'output_schema_unavailable' };
    if (!validate(plainNumbers(value))) return { value, error: 'output_schema_mismatch' };
  }
  return { value };
}

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
const compiled = new WeakMap<JsonObject, ValidateFunction | null>();

/** The packs loader already bounded and vetted the schema; compiled once per loaded action. */
function compiledSchema(schema: JsonObject): ValidateFunction | undefined {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    try {
      validate = ajv.compile(plainNumbers(schema) as object);
    } catch {
      validate = null;
    }
    compiled.set(schema, validate);
  }
  return validate ?? undefined;
}

/** Numbers a float64 cannot hold exactly are compared as the nearest double by the validator. */
function plainNumbers(value: JsonValue): unknown {
  if (value instanceof ExactNumber) return Number(value.literal);
  if (Array.isArray(value)) return value.map(plainNumbers);
  if (isJsonObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainNumbers(v)]));
  }
  return value;
}

function depthAndNodes(root: JsonValue): { depth: number; nodes: number } | undefined {
  let nodes = 0;
  let deepest = 0;
  const walk = (value: JsonValue, depth: number): boolean => {
    nodes += 1;
    deepest = Math.max(deepest, depth);
    if (nodes > MAX_NODES || depth > MAX_DEPTH) return false;
    if (Array.isArray(value)) return value.every((item) => walk(item, depth + 1));
    if (isJsonObject(value)) return Object.values(value).every((item) => walk(item, depth + 1));
    return true;
  };
  return walk(root, 1) ? { depth: deepest, nodes } : undefined;
}
