import type { JsonObject, JsonValue } from '@emisar/protocol';
import { RE2JS } from 're2js';
import { compareLiterals, isNumberLiteral, literalToBigInt, numberLiteral } from './decimal.js';
import { formatDuration, parseDuration } from './duration.js';
import { cleanPath, isUnder, resolveExistingPrefix, UnresolvablePathError } from './paths.js';
import { utf8Bytes } from './text.js';
import type {
  ActionDefinition,
  ArgSpec,
  ArgType,
  ArgValidation,
  ArgValue,
  ArgValues,
} from './types.js';

export type ArgErrorCode =
  | 'unknown_arg'
  | 'required'
  | 'type'
  | 'too_long'
  | 'too_many_items'
  | 'enum'
  | 'pattern'
  | 'range'
  | 'duration'
  | 'path_denied'
  | 'path_not_allowed'
  | 'path_not_absolute'
  | 'protected_path';

export interface ArgError {
  arg: string;
  code: ArgErrorCode;
  /** Never contains the value; generic when the arg is sensitive. */
  reason: string;
}

export type ValidationMode = 'host' | 'lexical';

export interface ValidateArgsOptions {
  mode: ValidationMode;
  /** Runner data, config and token directories: nothing may point into them (host mode). */
  protectedPaths?: string[];
}

export type ValidateArgsResult =
  | { ok: true; values: ArgValues }
  | { ok: false; errors: ArgError[] };

/** Scalar element of a coerced value: strings, booleans, integers (bigint), number literals, durations (ns). */
export type Element = string | boolean | bigint;

const ARG_NAME_SHOWN_MAX = 64;
const MAX_NUMBER_LITERAL_BYTES = 64;

class ArgRejected extends Error {
  constructor(
    readonly code: ArgErrorCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function elementType(type: ArgType): ArgType {
  if (type === 'string_array') return 'string';
  if (type === 'integer_array') return 'integer';
  return type;
}

export function isArrayType(type: ArgType): boolean {
  return type === 'string_array' || type === 'integer_array';
}

/** Coerces one JSON value to an element of a scalar arg type; throws ArgRejected('type'). */
/** `authored`: the value comes from the pack's YAML (a default or enum member), where `d`/`w` are allowed. */
export function coerceElement(type: ArgType, raw: JsonValue, authored = false): Element {
  switch (type) {
    case 'string':
    case 'path':
      if (typeof raw !== 'string') throw new ArgRejected('type', 'must be a string');
      if (raw.includes('\0')) throw new ArgRejected('type', 'must not contain a NUL character');
      return raw;
    case 'boolean':
      if (typeof raw !== 'boolean')
        throw new ArgRejected('type', 'must be true or false (a JSON boolean)');
      return raw;
    case 'integer': {
      const literal = typeof raw === 'string' ? raw : numberLiteral(raw);
      const value =
        literal !== undefined && isNumberLiteral(literal) ? literalToBigInt(literal) : undefined;
      if (value === undefined) throw new ArgRejected('type', 'must be an integer');
      return value;
    }
    case 'number': {
      const literal = numberLiteral(raw);
      if (literal === undefined) throw new ArgRejected('type', 'must be a number');
      if (utf8Bytes(literal) > MAX_NUMBER_LITERAL_BYTES) {
        throw new ArgRejected('type', `number literal exceeds ${MAX_NUMBER_LITERAL_BYTES} bytes`);
      }
      return literal;
    }
    case 'duration': {
      if (typeof raw !== 'string')
        throw new ArgRejected('type', 'must be a duration string like 5m or 1h30m');
      const ns = parseDuration(raw, authored);
      if (ns === undefined)
        throw new ArgRejected('type', 'must be a duration string like 5m or 1h30m');
      return ns;
    }
    default:
      throw new ArgRejected('type', 'arrays cannot be elements');
  }
}

function sameElement(type: ArgType, a: Element, b: Element): boolean {
  if (type === 'number') return compareLiterals(a as string, b as string) === 0;
  return a === b;
}

export function compilePattern(pattern: string): RE2JS {
  return RE2JS.compile(pattern);
}

const compiledPatterns = new Map<string, RE2JS>();
function patternFor(pattern: string): RE2JS {
  let re = compiledPatterns.get(pattern);
  if (re === undefined) {
    re = compilePattern(pattern);
    compiledPatterns.set(pattern, re);
  }
  return re;
}

function checkLength(v: ArgValidation, el: Element): Element {
  if (typeof el === 'string' && utf8Bytes(el) > v.maxLength) {
    throw new ArgRejected('too_long', `exceeds ${v.maxLength} bytes`);
  }
  return el;
}

function checkElement(v: ArgValidation, type: ArgType, el: Element): void {
  if (v.oneOf !== undefined && !v.oneOf.some((member) => sameElement(type, member, el))) {
    throw new ArgRejected('enum', 'is not one of the allowed values');
  }
  if (v.pattern !== undefined && typeof el === 'string' && !patternFor(v.pattern).test(el)) {
    throw new ArgRejected('pattern', 'does not match the required pattern');
  }
  if (type === 'integer' || type === 'number') {
    const literal = typeof el === 'bigint' ? el.toString() : (el as string);
    if (v.min !== undefined && compareLiterals(literal, v.min.literal) < 0) {
      throw new ArgRejected('range', `must be at least ${v.min.literal}`);
    }
    if (v.max !== undefined && compareLiterals(literal, v.max.literal) > 0) {
      throw new ArgRejected('range', `must be at most ${v.max.literal}`);
    }
  }
  if (type === 'duration' && typeof el === 'bigint') {
    if (v.minDurationNs !== undefined && el < v.minDurationNs) {
      throw new ArgRejected('duration', `must be at least ${formatDuration(v.minDurationNs)}`);
    }
    if (v.maxDurationNs !== undefined && el > v.maxDurationNs) {
      throw new ArgRejected('duration', `must be at most ${formatDuration(v.maxDurationNs)}`);
    }
  }
}

function hasPathRules(v: ArgValidation): boolean {
  return (
    v.allowedPaths !== undefined ||
    v.deniedPaths !== undefined ||
    v.allowedPrefixes !== undefined ||
    v.deniedPrefixes !== undefined
  );
}

function denied(v: ArgValidation, p: string): boolean {
  return (
    (v.deniedPaths ?? []).some((d) => cleanPath(d) === p) ||
    (v.deniedPrefixes ?? []).some((d) => isUnder(p, d))
  );
}

function allowed(v: ArgValidation, p: string): boolean {
  if (v.allowedPaths === undefined && v.allowedPrefixes === undefined) return true;
  return (
    (v.allowedPaths ?? []).some((a) => cleanPath(a) === p) ||
    (v.allowedPrefixes ?? []).some((a) => isUnder(p, a))
  );
}

function resolveOrReject(p: string): string {
  try {
    return resolveExistingPrefix(p);
  } catch (err) {
    if (err instanceof UnresolvablePathError)
      throw new ArgRejected('path_denied', 'cannot be resolved safely');
    throw err;
  }
}

/** Rule lists resolved on this host, so an allowlisted /tmp that is itself a symlink still matches. */
function resolvedOrSelf(p: string): string {
  try {
    return resolveExistingPrefix(cleanPath(p));
  } catch {
    return cleanPath(p);
  }
}

/** Rule lists plus their resolution on this host, so an allowlisted /tmp that is a symlink still matches. */
function resolvedRules(v: ArgValidation): ArgValidation {
  const both = (list?: string[]) =>
    list === undefined ? undefined : [...list, ...list.map(resolvedOrSelf)];
  return {
    ...v,
    allowedPaths: both(v.allowedPaths),
    allowedPrefixes: both(v.allowedPrefixes),
    deniedPaths: both(v.deniedPaths),
    deniedPrefixes: both(v.deniedPrefixes),
  };
}

function checkPath(v: ArgValidation, raw: string, opts: ValidateArgsOptions): string {
  const cleaned = cleanPath(raw);
  if (denied(v, cleaned)) throw new ArgRejected('path_denied', 'is in a denied location');
  if (!cleaned.startsWith('/'))
    throw new ArgRejected('path_not_absolute', 'must be an absolute path');
  const protectedPaths = (opts.protectedPaths ?? []).filter((p) => p !== '');
  if (opts.mode === 'lexical') {
    if (!allowed(v, cleaned))
      throw new ArgRejected('path_not_allowed', 'is outside the allowed locations');
    if (protectedPaths.some((p) => isUnder(cleaned, p))) {
      throw new ArgRejected('protected_path', 'points into a protected runner directory');
    }
    return cleaned;
  }
  const resolved = resolveOrReject(cleaned);
  const rules = resolvedRules(v);
  if (!allowed(rules, resolved))
    throw new ArgRejected('path_not_allowed', 'is outside the allowed locations');
  if (denied(rules, resolved)) throw new ArgRejected('path_denied', 'is in a denied location');
  const resolvedProtected = protectedPaths.map(resolvedOrSelf);
  if (
    [...protectedPaths, ...resolvedProtected].some(
      (p) => isUnder(resolved, p) || isUnder(cleaned, p),
    )
  ) {
    throw new ArgRejected('protected_path', 'points into a protected runner directory');
  }
  return resolved;
}

function coerceArg(
  spec: ArgSpec,
  raw: JsonValue,
  opts: ValidateArgsOptions,
  authored: boolean,
): ArgValue {
  const v = spec.validation;
  const type = elementType(spec.type);
  const pathRules = spec.type === 'path' || hasPathRules(v);
  const finish = (el: Element): Element => {
    checkElement(v, type, el);
    return pathRules && typeof el === 'string' ? checkPath(v, el, opts) : el;
  };
  if (isArrayType(spec.type)) {
    if (!Array.isArray(raw)) throw new ArgRejected('type', 'must be an array');
    const elements = raw.map((item) => checkLength(v, coerceElement(type, item, authored)));
    if (elements.length > v.maxItems)
      throw new ArgRejected('too_many_items', `allows at most ${v.maxItems} items`);
    const out = elements.map(finish);
    return spec.type === 'string_array'
      ? { type: 'string_array', value: out as string[] }
      : { type: 'integer_array', value: out as bigint[] };
  }
  const el = finish(checkLength(v, coerceElement(type, raw, authored)));
  switch (spec.type) {
    case 'string':
    case 'path':
      return { type: spec.type, value: el as string };
    case 'boolean':
      return { type: 'boolean', value: el as boolean };
    case 'integer':
      return { type: 'integer', value: el as bigint };
    case 'number':
      return { type: 'number', value: el as string };
    default:
      return { type: 'duration', value: el as bigint };
  }
}

function shownName(name: string): string {
  return utf8Bytes(name) <= ARG_NAME_SHOWN_MAX ? name : `${name.slice(0, ARG_NAME_SHOWN_MAX)}...`;
}

function masked(spec: ArgSpec, code: ArgErrorCode, reason: string): ArgError {
  return {
    arg: spec.name,
    code,
    reason: spec.sensitive ? 'value rejected (sensitive argument)' : reason,
  };
}

/**
 * Validates and coerces the arguments of one call. Host mode resolves path
 * symlinks on this machine; lexical mode (control plane, pack load) checks the
 * cleaned strings only. Every error is reported, in declaration order.
 */
export function validateArgs(
  action: Pick<ActionDefinition, 'args'>,
  args: JsonObject,
  opts: ValidateArgsOptions,
): ValidateArgsResult {
  const errors: ArgError[] = [];
  const declared = new Map(action.args.map((a) => [a.name, a]));
  for (const name of Object.keys(args)) {
    if (!declared.has(name)) {
      errors.push({
        arg: shownName(name),
        code: 'unknown_arg',
        reason: 'is not an argument of this action',
      });
    }
  }
  // No prototype: an arg may legally be called `constructor` or `__proto__`.
  const values: ArgValues = Object.create(null);
  for (const spec of action.args) {
    const given = Object.hasOwn(args, spec.name) ? args[spec.name] : undefined;
    if (given === undefined || given === null) {
      if (spec.required) {
        errors.push({ arg: spec.name, code: 'required', reason: 'is required' });
        continue;
      }
      if (spec.defaultJson === undefined) continue;
    }
    try {
      const fromDefault = given === undefined || given === null;
      values[spec.name] = coerceArg(
        spec,
        fromDefault ? spec.defaultJson! : given,
        opts,
        fromDefault,
      );
    } catch (err) {
      if (!(err instanceof ArgRejected)) throw err;
      errors.push(masked(spec, err.code, err.reason));
    }
  }
  return errors.length === 0 ? { ok: true, values } : { ok: false, errors };
}

/** Coerces a load-time value (enum member, default) without path resolution; undefined + reason on failure. */
export function tryCoerceElement(
  type: ArgType,
  raw: JsonValue,
): { value: Element } | { error: string } {
  try {
    return { value: coerceElement(type, raw, true) };
  } catch (err) {
    if (err instanceof ArgRejected) return { error: err.reason };
    throw err;
  }
}
