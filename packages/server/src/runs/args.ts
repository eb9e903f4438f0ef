import {
  type ArgSpec,
  BUILTIN_REDACTION_RULES,
  compileRedactionRules,
  redactText,
  sensitiveValueRules,
} from '@emisar/packs';
import {
  canonicalSha256Hex,
  type JsonObject,
  type JsonValue,
  parseStrictJson,
  stringifyJson,
} from '@emisar/protocol';
import { createSecretBox, type SecretBox } from '../core/secret-box.js';

const MASK = '[REDACTED]';

/** Seals a run's exact argument bytes; the run's request id is the associated data. */
export function createArgsBox(secretKey: Buffer): SecretBox {
  return createSecretBox(secretKey, 'run-args');
}

/** What a run keeps about its arguments. */
export interface ArgsAtRest {
  /** Exactly the text sent to the runner (the request's args, compact, exact numbers). */
  text: string;
  bytes: number;
  sha256: string;
  redacted: string;
  sensitiveNames: string[];
}

export function argsAtRest(args: JsonObject, specs: readonly ArgSpec[]): ArgsAtRest {
  const text = stringifyJson(args);
  const sensitiveNames = specs.filter((s) => s.sensitive).map((s) => s.name);
  return {
    text,
    bytes: Buffer.byteLength(text, 'utf8'),
    sha256: canonicalSha256Hex(args),
    redacted: stringifyJson(redactArgs(args, new Set(sensitiveNames))),
    sensitiveNames,
  };
}

/**
 * As the runner masks args for its journal: sensitive args become the mask, and
 * every other string passes through the sensitive literals and built-in rules.
 */
export function redactArgs(args: JsonObject, sensitive: ReadonlySet<string>): JsonObject {
  const literals = new Set<string>();
  for (const name of sensitive) {
    const value = args[name];
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined || item === null) continue;
      const text = typeof item === 'string' ? item : stringifyJson(item);
      if (text) literals.add(text);
    }
  }
  const rules = compileRedactionRules([
    ...sensitiveValueRules([...literals]),
    ...BUILTIN_REDACTION_RULES,
  ]);
  const mask = (value: JsonValue): JsonValue => {
    if (typeof value === 'string') return redactText(value, rules).text;
    if (Array.isArray(value)) return value.map(mask);
    return value;
  };
  const out: JsonObject = {};
  for (const [name, value] of Object.entries(args)) {
    out[name] = sensitive.has(name) ? MASK : mask(value);
  }
  return out;
}

/** The arguments a runner receives: the sealed text, opened and read back exactly. */
export function openArgs(box: SecretBox, sealed: Uint8Array, requestId: string): JsonObject {
  const value = parseStrictJson(box.open(sealed, requestId));
  return value as JsonObject;
}
