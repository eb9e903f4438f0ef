import { canonicalJson, ExactNumber, type JsonObject, type JsonValue } from '@emisar/protocol';
import { compareLiterals } from './decimal.js';
import { utf8Bytes } from './text.js';

const MAX_BYTES = 8 * 1024;
const MAX_DEPTH = 16;
const MAX_NODES = 512;
const BANNED = new Set([
  '$id',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$recursiveRef',
  '$recursiveAnchor',
  '$vocabulary',
  'definitions',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
]);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const SCHEMA_VALUES = new Set([
  'items',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'additionalProperties',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
]);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const LOCAL_REF = /^#\/\$defs\/[^/~]+$/;

function survivesFloat64(literal: string): boolean {
  const n = Number(literal);
  return Number.isFinite(n) && compareLiterals(String(n), literal) === 0;
}

/** Returns why an output schema is refused, or undefined when it is acceptable. */
export function checkOutputSchema(schema: JsonObject): string | undefined {
  if (schema.type !== 'object') return 'the root must declare type: object';
  const bad = new SchemaWalk().subschema(schema, 1);
  if (bad) return bad;
  if (utf8Bytes(canonicalJson(schema)) > MAX_BYTES) return `exceeds ${MAX_BYTES} bytes`;
  return undefined;
}

/**
 * One pass over a schema: every subschema, keyword and data value counts as a
 * node; each check returns why the schema is refused, or undefined.
 */
class SchemaWalk {
  private nodes = 0;

  subschema(node: JsonValue, depth: number): string | undefined {
    if (typeof node === 'boolean') {
      this.nodes++;
      return undefined;
    }
    if (
      typeof node !== 'object' ||
      node === null ||
      Array.isArray(node) ||
      node instanceof ExactNumber
    ) {
      return 'has a subschema that is not an object or boolean';
    }
    this.nodes++;
    if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH}`;
    for (const [key, value] of Object.entries(node)) {
      if (BANNED.has(key)) return `uses the banned keyword ${key}`;
      const bad = this.keyword(key, value, depth);
      if (bad) return bad;
      if (this.nodes > MAX_NODES) return `has more than ${MAX_NODES} nodes`;
    }
    return undefined;
  }

  private keyword(key: string, value: JsonValue, depth: number): string | undefined {
    if (key === '$ref') {
      this.nodes++;
      return typeof value === 'string' && LOCAL_REF.test(value)
        ? undefined
        : '$ref may only point to #/$defs/<name>';
    }
    if (key === 'multipleOf') {
      this.nodes++;
      return typeof value === 'number' && Number.isInteger(value) && value > 0
        ? undefined
        : 'multipleOf must be a positive integer';
    }
    if (SCHEMA_MAPS.has(key)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return `${key} must be a mapping`;
      this.nodes++;
      return this.subschemas(Object.values(value as JsonObject), depth + 2);
    }
    if (SCHEMA_VALUES.has(key)) return this.subschema(value, depth + 1);
    if (SCHEMA_LISTS.has(key)) {
      if (!Array.isArray(value)) return `${key} must be a list`;
      this.nodes++;
      return this.subschemas(value, depth + 2);
    }
    return this.data(value, depth + 1);
  }

  private subschemas(nodes: JsonValue[], depth: number): string | undefined {
    for (const node of nodes) {
      const bad = this.subschema(node, depth);
      if (bad) return bad;
    }
    return undefined;
  }

  /** A value that is data, not schema (const, enum, default, ...). */
  private data(value: JsonValue, depth: number): string | undefined {
    this.nodes++;
    if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH}`;
    if (value instanceof ExactNumber && !survivesFloat64(value.literal)) {
      return 'has a number a float64 cannot hold exactly';
    }
    const items = Array.isArray(value)
      ? value
      : typeof value === 'object' && value !== null
        ? Object.values(value)
        : [];
    for (const item of items) {
      const bad = this.data(item, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
}
