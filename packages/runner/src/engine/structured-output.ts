import type { ActionDefinition } from '@emisar/packs';
import { isJsonObject, type JsonObject, type JsonValue, parseStrictJson } from '@emisar/protocol';

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
  if (action.output.schema !== undefined) {
    // JSON Schema checking is not implemented in the runner yet: say so rather than pass it.
    return { value, error: 'output_schema_unavailable' };
  }
  return { value };
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
