import { ExactNumber } from './exact-number.js';

export type JsonPrimitive = null | boolean | number | string | ExactNumber;
export type JsonArray = JsonValue[];
export interface JsonObject {
  [key: string]: JsonValue;
}
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Shallow check: a plain object (not an array, not an ExactNumber). */
export function isJsonObject(value: unknown): value is JsonObject {
  return isPlainObject(value);
}

/** Shallow check of the top level; the writers check deeper levels as they go. */
export function isJsonValue(value: unknown): value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      return (
        value === null ||
        value instanceof ExactNumber ||
        Array.isArray(value) ||
        isPlainObject(value)
      );
    default:
      return false;
  }
}
