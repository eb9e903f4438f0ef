import type { JsonObject, JsonValue } from '@emisar/protocol';

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];

export const ARG_TYPES = [
  'string',
  'path',
  'boolean',
  'integer',
  'number',
  'duration',
  'string_array',
  'integer_array',
] as const;
export type ArgType = (typeof ARG_TYPES)[number];

export interface ArgValidation {
  /** enum or allowed, coerced to the element type (integers and durations as bigint, numbers as literals). */
  oneOf?: (string | boolean | bigint)[];
  pattern?: string;
  min?: Bound;
  max?: Bound;
  maxLength: number;
  maxItems: number;
  minDurationNs?: bigint;
  maxDurationNs?: bigint;
  allowedPaths?: string[];
  deniedPaths?: string[];
  allowedPrefixes?: string[];
  deniedPrefixes?: string[];
}

/** A numeric bound as an exact decimal literal. */
export interface Bound {
  literal: string;
}

export interface ArgSpec {
  name: string;
  type: ArgType;
  required: boolean;
  sensitive: boolean;
  /** The declared default (checked at load); undefined when none is declared. */
  defaultJson?: JsonValue;
  description?: string;
  validation: ArgValidation;
  /** The arg exactly as the YAML declared it (for descriptors). */
  declared: JsonObject;
}

/**
 * A coerced argument value. Integers are bigint, numbers keep their literal,
 * durations are nanoseconds with their canonical Go rendering, paths are
 * strings (resolved in host mode).
 */
export type ArgValue =
  | { type: 'string' | 'path'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'integer'; value: bigint }
  | { type: 'number'; value: string }
  | { type: 'duration'; value: bigint }
  | { type: 'string_array'; value: string[] }
  | { type: 'integer_array'; value: bigint[] };

export type ArgValues = Record<string, ArgValue>;

export interface RedactionRuleSpec {
  name: string;
  type: 'regex' | 'literal';
  pattern?: string;
  literal?: string;
  replacement: string;
}

export interface OutputSpec {
  parser: 'text' | 'json';
  parserRequired: boolean;
  schema?: JsonObject;
  maxStdoutBytes: number;
  maxStdoutBytesMin: number;
  maxStdoutBytesMax: number;
  maxStderrBytes: number;
  maxStderrBytesMin: number;
  maxStderrBytesMax: number;
  redact: RedactionRuleSpec[];
}

export interface ExecutionSpec {
  /** exec: the command binary; script: the interpreter. */
  binary: string;
  /** argv templates as declared (exec: command.argv; script: execution.argv). */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  user?: string;
  script?: { path: string; interpreter: string; absolutePath: string; sha256: string };
  timeoutNs: bigint;
  timeoutMinNs: bigint;
  timeoutMaxNs: bigint;
  successExitCodes: number[];
  cancelGraceNs?: bigint;
}

export interface ActionExample {
  title: string;
  args: JsonObject;
}

export interface ActionDefinition {
  id: string;
  packId: string;
  /** The action file path as written in pack.yaml. */
  file: string;
  title: string;
  summary: string;
  kind: 'exec' | 'script';
  risk: Risk;
  description: string;
  /** As declared; a single `none` is kept here and dropped in the descriptor. */
  sideEffects: string[];
  searchTerms: string[];
  args: ArgSpec[];
  execution: ExecutionSpec;
  output: OutputSpec;
  examples: ActionExample[];
}

export interface SetupEnv {
  name: string;
  required: boolean;
  description?: string;
  default?: string;
  example?: string;
}

export interface PackManifest {
  schemaVersion: 1;
  id: string;
  name: string;
  description: string;
  version: string;
  retiredBelow?: string;
  vendor?: string;
  homepage?: string;
  requires: { os: string[]; binaries: string[] };
  detect: { binaries: string[]; processes: string[]; ports: number[] };
  setup: { summary?: string; notes: string[]; env: SetupEnv[]; verify?: string };
  actions: string[];
  allowSymlinks: boolean;
}

/** One hashed file: its entry name (as written) and where it lives on disk. */
export interface PackFile {
  entry: string;
  absolutePath: string;
}

export interface LoadedPack {
  id: string;
  version: string;
  /** Absolute pack root. */
  dir: string;
  /** `sha256:<hex>` over the referenced files. */
  hash: string;
  /** `<id>@<version>/sha256:<hex>`. */
  packRef: string;
  manifest: PackManifest;
  actions: ActionDefinition[];
  /** Actions that parsed but were refused at load, with why; they never run. */
  refusedActions: RefusedAction[];
  /** The hashed file set, in hash order. */
  files: PackFile[];
}

/**
 * Why an action that parsed must never run as loaded: `interpreter` (an
 * open-ended value reaches code, options or the program to run), `redaction`
 * (a rule that can match across lines).
 */
export type RefusalRule = 'interpreter' | 'redaction';

export interface ActionRefusal {
  rule: RefusalRule;
  reason: string;
}

/** An action listed with why it is refused; never advertised. */
export interface RefusedAction {
  id: string;
  file: string;
  /** Every reason, joined. */
  reason: string;
  refusals: ActionRefusal[];
  action: ActionDefinition;
}

export type { JsonObject, JsonValue };
