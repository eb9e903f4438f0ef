import { z } from 'zod';
import { REQUEST_ID_PATTERN } from './ids.js';
import {
  isJsonObject,
  isJsonValue,
  isPlainObject,
  type JsonObject,
  type JsonValue,
} from './json-value.js';
import { utf8ByteLength } from './utf8.js';

/** Every field name our schemas declare; error reasons print only these, never input keys. */
const declaredFieldNames = new Set<string>();

export function isDeclaredFieldName(name: string): boolean {
  return declaredFieldNames.has(name);
}

/**
 * An object schema that ignores unknown fields (they are dropped from the
 * result) but rejects a case variant of a declared field (`Request_ID` beside
 * or instead of `request_id`), since another reader could take the variant.
 * `alsoKnown` names fields handled outside the shape (e.g. protocol_version).
 */
export function fields<Shape extends z.ZodRawShape>(
  shape: Shape,
  alsoKnown: readonly string[] = [],
) {
  const canonical = new Map<string, string>();
  for (const name of [...Object.keys(shape), ...alsoKnown]) {
    canonical.set(name.toLowerCase(), name);
    declaredFieldNames.add(name);
  }
  return z.preprocess((input, ctx) => {
    if (isPlainObject(input)) {
      for (const key of Object.keys(input)) {
        const name = canonical.get(key.toLowerCase());
        if (name !== undefined && name !== key) {
          ctx.addIssue({
            code: 'custom',
            message: 'case variant of a declared field',
            path: [name],
          });
        }
      }
    }
    return input;
  }, z.object(shape));
}

export const requestIdSchema = z.string().regex(REQUEST_ID_PATTERN);
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/);
/** A pack content hash as the packs spec writes it. */
export const packHashSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/);
export const countSchema = z.int().nonnegative();
export const positiveIntSchema = z.int().positive();

export function maxUtf8Bytes(max: number) {
  return z.string().refine((s) => utf8ByteLength(s) <= max, { message: `exceeds ${max} bytes` });
}

/** Any JSON value, kept by reference (ExactNumbers and member order untouched). */
export const jsonValueSchema = z.custom<JsonValue>(isJsonValue, { message: 'not a JSON value' });
/** A JSON object, kept by reference. */
export const jsonObjectSchema = z.custom<JsonObject>(isJsonObject, {
  message: 'not a JSON object',
});
