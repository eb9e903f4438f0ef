import { createHash } from 'node:crypto';
import type { JsonValue } from './json-value.js';
import { writeCanonicalJson } from './json-writer.js';

/**
 * RFC 8785 (JCS) canonical JSON, except numbers are exact: a JS number is
 * written by ES Number-to-String as JCS does, an ExactNumber by the same layout
 * applied to its exact decimal value. That is a normalisation (1.0E19 and
 * 10000000000000000000 read as one value), so equal values hash equally however
 * they were spelt, yet 2^63−1 and 2^63 stay distinct. Throws TypeError on
 * undefined, non-finite numbers, unpaired surrogates and non-JSON objects.
 */
export function canonicalJson(value: JsonValue): string {
  return writeCanonicalJson(value);
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of canonicalJson(value). */
export function canonicalSha256Hex(value: JsonValue): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
