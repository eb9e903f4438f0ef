import { canonicalSha256Hex } from './canonical-json.js';
import { type ActionDescriptor, ActionDescriptorSchema } from './frames.js';
import { isPlainObject, type JsonValue } from './json-value.js';

/**
 * descriptor_digest: the SHA-256 of the descriptor in canonical JSON, as 64
 * lowercase hex characters with no `sha256:` prefix (like every other digest
 * on the wire; only pack hashes carry the prefix, from the pack format).
 * The descriptor is first read through its wire schema, so both ends hash the
 * same fields: unknown fields are dropped and an undefined optional field is
 * the same as an absent one. Throws when the descriptor fails its schema.
 */
export function descriptorDigest(descriptor: ActionDescriptor): string {
  return canonicalSha256Hex(withoutUndefined(ActionDescriptorSchema.parse(descriptor)));
}

function withoutUndefined(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isPlainObject(value)) return value as JsonValue;
  // fromEntries defines members, so a `__proto__` key stays a member.
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => [key, withoutUndefined(member)]),
  );
}
