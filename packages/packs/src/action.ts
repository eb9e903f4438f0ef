import { type JsonObject, stringifyJson } from '@emisar/protocol';
import {
  compilePattern,
  elementType,
  isArrayType,
  tryCoerceElement,
  validateArgs,
} from './args.js';
import { compareLiterals, numberLiteral } from './decimal.js';
import { parseDuration } from './duration.js';
import { checkInterpreterRule } from './interpreter-rule/index.js';
import { ACTION_ID, ID_MAX_BYTES, readSchemaVersion } from './manifest.js';
import { checkOutputSchema } from './output-schema.js';
import { cleanPath } from './paths.js';
import { FieldReader, isPlainMapping } from './reader.js';
import { BUILTIN_REDACTION_RULES } from './redaction/builtin.js';
import { canMatchNewline } from './regex-safety.js';
import { parseTemplate, soleExpression } from './template.js';
import { firstSentence, utf8Bytes } from './text.js';
import {
  type ActionDefinition,
  type ActionRefusal,
  ARG_TYPES,
  type ArgSpec,
  type ArgType,
  type ArgValidation,
  type ExecutionSpec,
  type OutputSpec,
  type RedactionRuleSpec,
  RISKS,
  type Risk,
} from './types.js';
import { YamlSource } from './yaml-source.js';

const ACTION_FIELDS = [
  'schema_version',
  'id',
  'title',
  'summary',
  'kind',
  'risk',
  'description',
  'side_effects',
  'search_terms',
  'args',
  'execution',
  'output',
  'examples',
] as const;
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BARE_BINARY = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN_ENV = /^(?:LD_|DYLD_)|^BASH_ENV$/;
const USER = /^(?:[0-9]+|[a-z_][a-z0-9_-]*\$?)$/;
export const DEFAULT_MAX_LENGTH = 32 * 1024;
export const DEFAULT_MAX_ITEMS = 256;
const DEFAULT_REPLACEMENT = '[REDACTED]';
const BUILTIN_NAMES = new Set(BUILTIN_REDACTION_RULES.map((r) => r.name));

/** A parsed action, plus the reason it is refused when it parsed but must never run. */
export interface ParsedAction {
  action: ActionDefinition;
  /** Empty when the action may run. */
  refusals: ActionRefusal[];
}

const PATH_RULES = ['allowed_paths', 'denied_paths', 'allowed_prefixes', 'denied_prefixes'];
const TEXT_RULES = ['enum', 'allowed', 'pattern', 'max_length', ...PATH_RULES];
const VALIDATION_KEYS_BY_TYPE: Record<ArgType, readonly string[]> = {
  string: TEXT_RULES,
  path: TEXT_RULES,
  boolean: [],
  integer: ['enum', 'allowed', 'min', 'max'],
  number: ['enum', 'allowed', 'min', 'max'],
  duration: ['enum', 'allowed', 'min_duration', 'max_duration'],
  string_array: ['enum', 'allowed', 'max_length', 'max_items', ...PATH_RULES],
  integer_array: ['enum', 'allowed', 'min', 'max', 'max_items'],
};
const ALL_VALIDATION_KEYS = [
  'enum',
  'allowed',
  'pattern',
  'min',
  'max',
  'max_length',
  'max_items',
  'min_duration',
  'max_duration',
  'allowed_paths',
  'denied_paths',
  'allowed_prefixes',
  'denied_prefixes',
];

function readValidation(reader: FieldReader | undefined, type: ArgType): ArgValidation {
  const v: ArgValidation = { maxLength: DEFAULT_MAX_LENGTH, maxItems: DEFAULT_MAX_ITEMS };
  if (reader === undefined) return v;
  const r: FieldReader = reader;
  r.only(ALL_VALIDATION_KEYS);
  for (const key of Object.keys(r.value)) {
    if (!VALIDATION_KEYS_BY_TYPE[type].includes(key)) r.fail(key, `does not apply to ${type} args`);
  }
  const element = elementType(type);
  if (r.has('enum') && r.has('allowed')) r.fail('allowed', 'use enum or allowed, not both');
  for (const key of ['enum', 'allowed']) {
    if (!r.has(key)) continue;
    const members = r.list(key, { min: 1 });
    v.oneOf = members.map((member, i) => {
      const coerced = tryCoerceElement(element, member);
      if ('error' in coerced) r.fail(`${key}[${i}]`, `member ${coerced.error}`);
      return coerced.value;
    });
  }
  const pattern = r.string('pattern');
  if (pattern !== undefined) {
    try {
      compilePattern(pattern);
    } catch (err) {
      r.fail('pattern', `is not valid RE2: ${(err as Error).message}`);
    }
    v.pattern = pattern;
  }
  for (const key of ['min', 'max'] as const) {
    const raw = r.raw(key);
    if (raw === undefined) continue;
    const literal = numberLiteral(raw);
    if (literal === undefined) r.fail(key, 'must be a number');
    v[key] = { literal };
  }
  if (v.min && v.max && compareLiterals(v.min.literal, v.max.literal) > 0)
    r.fail('min', 'is greater than max');
  for (const key of ['max_length', 'max_items'] as const) {
    const value = r.integer(key);
    if (value === undefined) continue;
    if (value < 1) r.fail(key, 'must be at least 1');
    if (key === 'max_length') v.maxLength = value;
    else v.maxItems = value;
  }
  for (const key of ['min_duration', 'max_duration'] as const) {
    const text = r.string(key);
    if (text === undefined) continue;
    const ns = parseDuration(text, true);
    if (ns === undefined) r.fail(key, 'is not a duration');
    if (key === 'min_duration') v.minDurationNs = ns;
    else v.maxDurationNs = ns;
  }
  if (
    v.minDurationNs !== undefined &&
    v.maxDurationNs !== undefined &&
    v.minDurationNs > v.maxDurationNs
  ) {
    r.fail('min_duration', 'is greater than max_duration');
  }
  const lists = {
    allowedPaths: 'allowed_paths',
    deniedPaths: 'denied_paths',
    allowedPrefixes: 'allowed_prefixes',
    deniedPrefixes: 'denied_prefixes',
  } as const;
  for (const [field, key] of Object.entries(lists) as [keyof typeof lists, string][]) {
    if (!r.has(key)) continue;
    const paths = r.stringList(key, { min: 1 });
    paths.forEach((p, i) => {
      if (!cleanPath(p).startsWith('/')) r.fail(`${key}[${i}]`, 'must be an absolute path');
    });
    v[field] = paths;
  }
  return v;
}

function readArg(r: FieldReader): ArgSpec {
  r.only(['name', 'type', 'required', 'sensitive', 'default', 'description', 'validation']);
  const name = r.string('name', { required: true });
  if (!ARG_NAME.test(name)) r.fail('name', 'must match [A-Za-z_][A-Za-z0-9_]*');
  const type = r.string('type', { required: true }) as ArgType;
  if (!ARG_TYPES.includes(type)) r.fail('type', `must be one of ${ARG_TYPES.join(', ')}`);
  const spec: ArgSpec = {
    name,
    type,
    required: r.boolean('required', false),
    sensitive: r.boolean('sensitive', false),
    validation: readValidation(r.child('validation'), type),
    declared: r.value as JsonObject,
  };
  const description = r.string('description');
  if (description !== undefined) {
    r.checkText('description', description, 4096);
    spec.description = description;
  }
  if (r.has('default')) {
    if (spec.required) r.fail('default', 'a required arg cannot have a default');
    const fallback = r.raw('default')!;
    spec.defaultJson = fallback;
    const checked = validateArgs({ args: [spec] }, {}, { mode: 'lexical' });
    if (!checked.ok) r.fail('default', `${checked.errors[0]!.reason} (${checked.errors[0]!.code})`);
  }
  return spec;
}

function readDurationField(r: FieldReader, key: string, required: boolean): bigint | undefined {
  const text = required ? r.string(key, { required: true }) : r.string(key);
  if (text === undefined) return undefined;
  const ns = parseDuration(text, true);
  if (ns === undefined) r.fail(key, 'is not a duration (e.g. 30s, 5m, 1h30m)');
  if (ns === 0n) r.fail(key, 'must be greater than zero');
  // Limits travel as integer nanoseconds in JSON; keep them exact.
  if (ns > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(key, 'must be at most 104 days');
  return ns;
}

function checkTemplates(
  r: FieldReader,
  key: string,
  templates: string[],
  args: ArgSpec[],
  element: boolean,
): void {
  templates.forEach((template, i) => {
    const parts = parseTemplate(template);
    if ('error' in parts) r.fail(`${key}[${i}]`, parts.error);
    const sole = element ? soleExpression(parts) : undefined;
    for (const part of parts) {
      if (part.kind !== 'arg') continue;
      const spec = args.find((a) => a.name === part.name);
      if (spec === undefined)
        r.fail(`${key}[${i}]`, `references args.${part.name}, which is not declared`);
      if (isArrayType(spec.type) && sole === undefined) {
        r.fail(`${key}[${i}]`, `array args.${part.name} must be a whole argv element on its own`);
      }
    }
  });
}

function readExecution(r: FieldReader, kind: 'exec' | 'script', args: ArgSpec[]): ExecutionSpec {
  r.only([
    'command',
    'script',
    'argv',
    'timeout',
    'timeout_min',
    'timeout_max',
    'success_exit_codes',
    'cancel_grace',
    'cwd',
    'env',
    'user',
  ]);
  const { binary, argv, script } = kind === 'exec' ? readCommand(r, args) : readScript(r, args);
  const env = readEnv(r, args);
  const cwd = r.string('cwd') ?? '/';
  if (!cwd.startsWith('/') || cwd.includes('{{'))
    r.fail('cwd', 'must be an absolute path without templates');
  const user = r.raw('user') === undefined ? undefined : String(r.raw('user'));
  if (user !== undefined && !USER.test(user))
    r.fail('user', 'must be a user name or a numeric uid');
  const { timeoutNs, timeoutMinNs, timeoutMaxNs } = readTimeouts(r);
  const codes = readSuccessExitCodes(r);

  const execution: ExecutionSpec = {
    binary,
    argv,
    env,
    cwd: cleanPath(cwd),
    timeoutNs,
    timeoutMinNs,
    timeoutMaxNs,
    successExitCodes: codes,
  };
  if (user !== undefined) execution.user = user;
  if (script !== undefined) execution.script = script;
  const grace = readDurationField(r, 'cancel_grace', false);
  if (grace !== undefined) execution.cancelGraceNs = grace;
  return execution;
}

type Program = Pick<ExecutionSpec, 'binary' | 'argv' | 'script'>;

/** kind: exec runs `execution.command`: a bare program (or /bin/sh) and its argv templates. */
function readCommand(r: FieldReader, args: ArgSpec[]): Program {
  if (r.has('script')) r.fail('script', 'is only for kind: script');
  if (r.has('argv')) r.fail('argv', 'belongs under execution.command for kind: exec');
  const command = r.child('command', { required: true })!;
  command.only(['binary', 'argv']);
  const binary = command.string('binary', { required: true });
  if (binary !== '/bin/sh' && !BARE_BINARY.test(binary)) {
    command.fail('binary', 'must be a bare program name looked up on PATH, or /bin/sh');
  }
  const argv = command.stringList('argv', { required: true });
  checkTemplates(command, 'argv', argv, args, true);
  return { binary, argv };
}

/** kind: script runs the pack's script under its interpreter, with `execution.argv` after it. */
function readScript(r: FieldReader, args: ArgSpec[]): Program {
  if (r.has('command')) r.fail('command', 'is only for kind: exec');
  const s = r.child('script', { required: true })!;
  s.only(['path', 'interpreter']);
  const path = s.string('path', { required: true });
  const interpreter = s.string('interpreter') ?? '/bin/sh';
  const absolute = interpreter.startsWith('/') && cleanPath(interpreter) === interpreter;
  if (!absolute && !BARE_BINARY.test(interpreter)) {
    s.fail('interpreter', 'must be a clean absolute path or a bare program name');
  }
  const argv = r.stringList('argv');
  checkTemplates(r, 'argv', argv, args, true);
  return { binary: interpreter, argv, script: { path, interpreter, absolutePath: '', sha256: '' } };
}

/** The environment a pack sets: valid names, none that changes how programs load, string templates. */
function readEnv(r: FieldReader, args: ArgSpec[]): Record<string, string> {
  const env: Record<string, string> = {};
  const envReader = r.child('env');
  for (const [key, value] of Object.entries(envReader?.value ?? {})) {
    const e: FieldReader = envReader!;
    if (!ENV_KEY.test(key)) e.fail(key, 'is not a valid environment variable name');
    if (FORBIDDEN_ENV.test(key)) e.fail(key, 'may not be set by a pack (LD_*, DYLD_*, BASH_ENV)');
    if (typeof value !== 'string') e.fail(key, 'must be a string');
    env[key] = value;
  }
  if (envReader) checkTemplates(envReader, 'values', Object.values(env), args, false);
  return env;
}

/** The timeout and the range a caller may move it within (both default to the timeout). */
function readTimeouts(
  r: FieldReader,
): Pick<ExecutionSpec, 'timeoutNs' | 'timeoutMinNs' | 'timeoutMaxNs'> {
  const timeoutNs = readDurationField(r, 'timeout', true)!;
  const timeoutMinNs = readDurationField(r, 'timeout_min', false) ?? timeoutNs;
  const timeoutMaxNs = readDurationField(r, 'timeout_max', false) ?? timeoutNs;
  if (timeoutMinNs > timeoutNs) r.fail('timeout_min', 'is greater than timeout');
  if (timeoutMaxNs < timeoutNs) r.fail('timeout_max', 'is less than timeout');
  return { timeoutNs, timeoutMinNs, timeoutMaxNs };
}

/** Exit codes besides 0 that count as success: unique, 1 to 255. */
function readSuccessExitCodes(r: FieldReader): number[] {
  const codes = r.list('success_exit_codes').map((code, i) => {
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 1 || code > 255) {
      r.fail(`success_exit_codes[${i}]`, 'must be an integer from 1 to 255');
    }
    return code;
  });
  if (new Set(codes).size !== codes.length) r.fail('success_exit_codes', 'must be unique');
  return codes;
}

function readRedaction(r: FieldReader, refusals: ActionRefusal[]): RedactionRuleSpec[] {
  const names = new Set<string>();
  return r.children('redact').map((rule) => {
    rule.only(['name', 'type', 'pattern', 'literal', 'replacement']);
    const name = rule.string('name', { required: true });
    if (names.has(name)) rule.fail('name', `duplicates rule ${name}`);
    if (BUILTIN_NAMES.has(name)) rule.fail('name', `${name} is the name of a built-in rule`);
    names.add(name);
    const type = rule.string('type', { required: true });
    const replacement = rule.string('replacement') ?? DEFAULT_REPLACEMENT;
    if (type === 'regex') {
      if (rule.has('literal')) rule.fail('literal', 'is only for type: literal');
      const pattern = rule.string('pattern', { required: true });
      try {
        compilePattern(pattern);
      } catch (err) {
        rule.fail('pattern', `is not valid RE2: ${(err as Error).message}`);
      }
      if (canMatchNewline(pattern)) {
        refusals.push({
          rule: 'redaction',
          reason: `redaction rule ${name} can match a newline; rules apply within one line`,
        });
      }
      return { name, type, pattern, replacement };
    }
    if (type === 'literal') {
      if (rule.has('pattern')) rule.fail('pattern', 'is only for type: regex');
      const literal = rule.string('literal', { required: true });
      if (literal.includes('\n'))
        refusals.push({
          rule: 'redaction',
          reason: `redaction rule ${name} contains a newline; rules apply within one line`,
        });
      return { name, type, literal, replacement };
    }
    return rule.fail('type', 'must be regex or literal');
  });
}

function readByteBounds(r: FieldReader, key: string): [number, number, number] {
  const value = r.integer(key);
  if (value === undefined) r.fail(key, 'is required');
  if (value <= 0) r.fail(key, 'must be greater than zero');
  const min = r.integer(`${key}_min`) ?? value;
  const max = r.integer(`${key}_max`) ?? value;
  if (min <= 0) r.fail(`${key}_min`, 'must be greater than zero');
  if (min > max) r.fail(`${key}_min`, `is greater than ${key}_max`);
  if (value < min || value > max) r.fail(key, `must lie within [${key}_min, ${key}_max]`);
  return [value, min, max];
}

function readOutput(r: FieldReader, refusals: ActionRefusal[]): OutputSpec {
  r.only([
    'parser',
    'parser_required',
    'schema',
    'max_stdout_bytes',
    'max_stdout_bytes_min',
    'max_stdout_bytes_max',
    'max_stderr_bytes',
    'max_stderr_bytes_min',
    'max_stderr_bytes_max',
    'redact',
  ]);
  const parserRaw = r.string('parser') ?? '';
  if (!['', 'text', 'json'].includes(parserRaw)) r.fail('parser', 'must be text or json');
  const parser = parserRaw === 'json' ? 'json' : 'text';
  const parserRequired = r.boolean('parser_required', false);
  const [maxStdoutBytes, maxStdoutBytesMin, maxStdoutBytesMax] = readByteBounds(
    r,
    'max_stdout_bytes',
  );
  const [maxStderrBytes, maxStderrBytesMin, maxStderrBytesMax] = readByteBounds(
    r,
    'max_stderr_bytes',
  );
  const output: OutputSpec = {
    parser,
    parserRequired,
    maxStdoutBytes,
    maxStdoutBytesMin,
    maxStdoutBytesMax,
    maxStderrBytes,
    maxStderrBytesMin,
    maxStderrBytesMax,
    redact: readRedaction(r, refusals),
  };
  const schema = r.raw('schema');
  if (schema !== undefined) {
    if (parser !== 'json' || !parserRequired)
      r.fail('schema', 'needs parser: json and parser_required: true');
    if (!isPlainMapping(schema)) r.fail('schema', 'must be a mapping');
    const problem = checkOutputSchema(schema);
    if (problem !== undefined) r.fail('schema', problem);
    output.schema = schema;
  }
  return output;
}

/**
 * Rebuilds argument specs from args as declared (the `args` of a runner_state
 * descriptor), so the control plane can run lexical validation and build tool
 * schemas without the pack files. Throws PackLoadError (file `descriptor`).
 */
export function argSpecsFromDeclared(declared: readonly JsonObject[]): ArgSpec[] {
  const src = new YamlSource('descriptor', stringifyJson({ args: [...declared] }));
  const args = FieldReader.root(src).children('args').map(readArg);
  if (new Set(args.map((a) => a.name)).size !== args.length) src.fail('args: duplicate names');
  return args;
}

/** Validates one action file. Script files are checked by the loader, which can read them. */
export function readAction(src: YamlSource, packId: string): ParsedAction {
  const r: FieldReader = FieldReader.root(src);
  r.only(ACTION_FIELDS);
  readSchemaVersion(r);
  const id = r.string('id', { required: true });
  if (!ACTION_ID.test(id) || utf8Bytes(id) > ID_MAX_BYTES) {
    r.fail('id', 'must be at least two dot-separated segments [a-z][a-z0-9_-]*, at most 128 bytes');
  }
  const kindText = r.string('kind', { required: true });
  if (kindText !== 'exec' && kindText !== 'script') r.fail('kind', 'must be exec or script');
  const kind: 'exec' | 'script' = kindText;
  const risk = r.string('risk', { required: true }) as Risk;
  if (!RISKS.includes(risk)) r.fail('risk', `must be one of ${RISKS.join(', ')}`);
  const title = r.text('title', { required: true, maxBytes: 160 });
  const description = r.text('description', { required: true, maxBytes: 4096 });
  let summary = r.text('summary', { maxBytes: 512 });
  if (summary === undefined) {
    summary = firstSentence(description);
    if (utf8Bytes(summary) > 512)
      r.fail('summary', 'is required: the first sentence of the description exceeds 512 bytes');
  }
  const sideEffectsList = r.stringList('side_effects', { required: true, min: 1, max: 16 });
  const sideEffects = sideEffectsList.map((s, i) => r.checkText(`side_effects[${i}]`, s, 1024));
  const searchTermsList = r.stringList('search_terms', { max: 16 });
  const searchTerms = searchTermsList.map((s, i) => r.checkText(`search_terms[${i}]`, s, 80));
  if (new Set(searchTerms.map((t) => t.toLowerCase())).size !== searchTerms.length) {
    r.fail('search_terms', 'must be unique ignoring case');
  }

  const args = r.children('args').map(readArg);
  const seen = new Set<string>();
  for (const arg of args) {
    if (seen.has(arg.name)) r.fail('args', `declares ${arg.name} twice`);
    seen.add(arg.name);
  }
  const execution = readExecution(r.child('execution', { required: true })!, kind, args);
  const refusals: ActionRefusal[] = [];
  const interpreter = checkInterpreterRule(execution, args);
  if (interpreter !== undefined) refusals.push({ rule: 'interpreter', reason: interpreter });
  const output = readOutput(r.child('output', { required: true })!, refusals);

  const exampleReaders = r.children('examples', { max: 16 });
  const examples = exampleReaders.map((ex) => {
    ex.only(['title', 'args']);
    const exampleTitle = ex.text('title', { required: true, maxBytes: 160 });
    const exampleArgs = (ex.child('args', { required: true })?.value ?? {}) as JsonObject;
    const checked = validateArgs({ args }, exampleArgs, { mode: 'lexical' });
    if (!checked.ok) {
      const first = checked.errors[0]!;
      ex.fail('args', `args.${first.arg} ${first.reason} (${first.code})`);
    }
    return { title: exampleTitle, args: exampleArgs };
  });

  const action: ActionDefinition = {
    id,
    packId,
    file: src.file,
    title,
    summary,
    kind,
    risk,
    description,
    sideEffects,
    searchTerms,
    args,
    execution,
    output,
    examples,
  };
  return { action, refusals };
}
