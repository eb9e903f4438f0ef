import { formatDecimal, parseDecimal } from './decimal.js';
import { ExactNumber } from './exact-number.js';
import { isPlainObject, type JsonValue } from './json-value.js';

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Compact JSON like JSON.stringify, except: an ExactNumber is written as its
 * literal verbatim, and what JSON.stringify would silently change is an error
 * (non-finite numbers, unpaired surrogates, non-plain objects, cycles).
 * Object members whose value is undefined are left out, as JSON.stringify does.
 */
export function stringifyJson(value: JsonValue): string {
  const out: string[] = [];
  write(value, false, out, new Set());
  return out.join('');
}

/** The RFC 8785 writer behind canonicalJson (sorted keys, exact numbers, no undefined). @internal */
export function writeCanonicalJson(value: JsonValue): string {
  const out: string[] = [];
  write(value, true, out, new Set());
  return out.join('');
}

function write(value: unknown, canonical: boolean, out: string[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      writeString(value, out);
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('JSON has no non-finite numbers');
      out.push(String(value)); // ES Number-to-String; -0 becomes "0" as in JCS
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`not a JSON value: ${typeof value}`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (value instanceof ExactNumber) {
    out.push(canonical ? formatDecimal(parseDecimal(value.literal)) : value.literal);
    return;
  }
  if (ancestors.has(value)) throw new TypeError('cyclic structure is not JSON');
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (item === undefined) throw new TypeError('undefined array element is not JSON');
      if (i > 0) out.push(',');
      write(item, canonical, out, ancestors);
    });
    out.push(']');
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value);
    // Default sort compares UTF-16 code units, which is exactly RFC 8785's order.
    if (canonical) keys.sort();
    out.push('{');
    let first = true;
    for (const key of keys) {
      const member = value[key];
      if (member === undefined) {
        if (canonical) throw new TypeError('undefined member is not JSON');
        continue;
      }
      if (!first) out.push(',');
      first = false;
      writeString(key, out);
      out.push(':');
      write(member, canonical, out, ancestors);
    }
    out.push('}');
  } else {
    throw new TypeError('only plain objects and arrays are JSON');
  }
  ancestors.delete(value);
}

function writeString(value: string, out: string[]): void {
  if (LONE_SURROGATE.test(value)) throw new TypeError('string holds an unpaired surrogate');
  // JSON.stringify's string escaping is RFC 8785's: \b \f \n \r \t \" \\, other controls as \u00xx.
  out.push(JSON.stringify(value));
}
