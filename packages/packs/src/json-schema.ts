import { ExactNumber, type JsonObject, type JsonValue } from '@emisar/protocol';
import { elementType, isArrayType } from './args.js';
import { formatDuration } from './duration.js';
import type { ActionDefinition, ArgSpec, ArgType } from './types.js';

const GO_DURATION = '^(?:0|(?:[0-9]+(?:\\.[0-9]*)?(?:ns|us|µs|μs|ms|s|m|h))+)$';

/** An RE2 pattern, when ECMAScript reads it the same way closely enough to publish it. */
function portablePattern(pattern: string): string | undefined {
  if (/\(\?[a-zA-Z]|\\[AzCQEpP]|\[\[:/.test(pattern)) return undefined;
  try {
    new RegExp(pattern, 'u');
    return pattern;
  } catch {
    return undefined;
  }
}

function literalValue(literal: string): JsonValue {
  const n = Number(literal);
  return String(n) === literal ? n : new ExactNumber(literal);
}

function elementSchema(arg: ArgSpec, type: ArgType): JsonObject {
  const v = arg.validation;
  const schema: JsonObject = {};
  switch (type) {
    case 'string':
    case 'path': {
      schema.type = 'string';
      // JSON Schema counts characters; max_length counts UTF-8 bytes, so this is an upper bound.
      schema.maxLength = v.maxLength;
      const pattern = v.pattern === undefined ? undefined : portablePattern(v.pattern);
      if (pattern !== undefined) schema.pattern = pattern;
      break;
    }
    case 'boolean':
      schema.type = 'boolean';
      break;
    case 'integer':
    case 'number':
      schema.type = type;
      if (v.min !== undefined) schema.minimum = literalValue(v.min.literal);
      if (v.max !== undefined) schema.maximum = literalValue(v.max.literal);
      break;
    case 'duration':
      schema.type = 'string';
      schema.pattern = GO_DURATION;
      break;
  }
  if (v.oneOf !== undefined) {
    schema.enum = v.oneOf.map((member): JsonValue => {
      if (typeof member !== 'bigint')
        return type === 'number' ? literalValue(member as string) : member;
      if (type === 'duration') return formatDuration(member);
      return Number.isSafeInteger(Number(member))
        ? Number(member)
        : new ExactNumber(member.toString());
    });
  }
  return schema;
}

function describe(arg: ArgSpec): string | undefined {
  const notes: string[] = [];
  if (arg.description !== undefined) notes.push(arg.description.trim());
  const v = arg.validation;
  if (v.allowedPrefixes) notes.push(`Must be under: ${v.allowedPrefixes.join(', ')}.`);
  if (v.allowedPaths) notes.push(`Must be one of: ${v.allowedPaths.join(', ')}.`);
  if (v.deniedPrefixes || v.deniedPaths) {
    notes.push(`Not: ${[...(v.deniedPaths ?? []), ...(v.deniedPrefixes ?? [])].join(', ')}.`);
  }
  if (arg.type === 'path') notes.push('An absolute path.');
  if (elementType(arg.type) === 'duration') {
    notes.push('A duration such as 30s, 5m or 1h30m.');
    if (v.minDurationNs !== undefined) notes.push(`At least ${formatDuration(v.minDurationNs)}.`);
    if (v.maxDurationNs !== undefined) notes.push(`At most ${formatDuration(v.maxDurationNs)}.`);
  }
  if (v.pattern !== undefined && portablePattern(v.pattern) === undefined) {
    notes.push(`Must match the RE2 pattern ${v.pattern}.`);
  }
  return notes.length > 0 ? notes.join(' ') : undefined;
}

/** A JSON Schema (2020-12) of an action's arguments, for tool definitions shown to models. */
export function argsJsonSchema(action: Pick<ActionDefinition, 'args'>): JsonObject {
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const arg of action.args) {
    const type = elementType(arg.type);
    const schema: JsonObject = isArrayType(arg.type)
      ? { type: 'array', items: elementSchema(arg, type), maxItems: arg.validation.maxItems }
      : elementSchema(arg, type);
    const description = describe(arg);
    if (description !== undefined) schema.description = description;
    if (arg.defaultJson !== undefined) schema.default = arg.defaultJson;
    properties[arg.name] = schema;
    if (arg.required) required.push(arg.name);
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  };
}
