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
  let nodes = 0;
  const countData = (value: JsonValue, depth: number): string | undefined => {
    nodes++;
    if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH}`;
    if (value instanceof ExactNumber && !survivesFloat64(value.literal)) {
      return 'has a number a float64 cannot hold exactly';
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        const bad = countData(item, depth + 1);
        if (bad) return bad;
      }
    } else if (typeof value === 'object' && value !== null) {
      for (const item of Object.values(value)) {
        const bad = countData(item, depth + 1);
        if (bad) return bad;
      }
    }
    return undefined;
  };
  const walk = (node: JsonValue, depth: number): string | undefined => {
    if (typeof node === 'boolean') {
      nodes++;
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
    nodes++;
    if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH}`;
    for (const [key, value] of Object.entries(node)) {
      if (BANNED.has(key)) return `uses the banned keyword ${key}`;
      let bad: string | undefined;
      if (key === '$ref') {
        bad =
          typeof value === 'string' && LOCAL_REF.test(value)
            ? undefined
            : '$ref may only point to #/$defs/<name>';
        nodes++;
      } else if (key === 'multipleOf') {
        bad =
          typeof value === 'number' && Number.isInteger(value) && value > 0
            ? undefined
            : 'multipleOf must be a positive integer';
        nodes++;
      } else if (SCHEMA_MAPS.has(key)) {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          bad = `${key} must be a mapping`;
        else {
          nodes++;
          for (const sub of Object.values(value as JsonObject)) {
            bad = walk(sub, depth + 2);
            if (bad) break;
          }
        }
      } else if (SCHEMA_VALUES.has(key)) {
        bad = walk(value, depth + 1);
      } else if (SCHEMA_LISTS.has(key)) {
        if (!Array.isArray(value)) bad = `${key} must be a list`;
        else {
          nodes++;
          for (const sub of value) {
            bad = walk(sub, depth + 2);
            if (bad) break;
          }
        }
      } else {
        bad = countData(value, depth + 1);
      }
      if (bad) return bad;
      if (nodes > MAX_NODES) return `has more than ${MAX_NODES} nodes`;
    }
    return undefined;
  };
  const bad = walk(schema, 1);
  if (bad) return bad;
  if (utf8Bytes(canonicalJson(schema)) > MAX_BYTES) return `exceeds ${MAX_BYTES} bytes`;
  return undefined;
}
