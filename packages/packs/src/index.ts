export { type ActionDescriptor, descriptorDigest } from '@emisar/protocol';
export { argSpecsFromDeclared, type ParsedAction, readAction } from './action.js';
export {
  type ArgError,
  type ArgErrorCode,
  type ValidateArgsOptions,
  type ValidateArgsResult,
  type ValidationMode,
  validateArgs,
} from './args.js';
export { actionDescriptor, type ExecutableAvailability, modelSideEffects } from './descriptor.js';
export {
  type DegradedPack,
  type DiscoveredPacks,
  discoverPacks,
  packDirectories,
} from './discover.js';
export { formatDuration, parseDuration } from './duration.js';
export { PackLoadError } from './errors.js';
export { hashPackFiles } from './hash.js';
export { argsJsonSchema } from './json-schema.js';
export { loadPack, PACK_MANIFEST } from './load.js';
export { ACTION_ID } from './manifest.js';
export { type ClampedOpts, clampOpts, type RunOpts } from './opts.js';
export { cleanPath, isUnder } from './paths.js';
export { BUILTIN_REDACTION_RULES, type BuiltinRedactionRule } from './redaction/builtin.js';
export { BUILTIN_REDACTION_EXAMPLES, type RedactionExample } from './redaction/examples.js';
export { LINE_HOLD } from './redaction/lines.js';
export { PACK_MATCH_BOUND } from './redaction/pack-regex.js';
export {
  type CompiledRedactionRules,
  type CompiledRule,
  compileRedactionRules,
  DEFAULT_REPLACEMENT,
  type RedactionRuleInput,
  sensitiveValueRules,
} from './redaction/rules.js';
export type { PassResult } from './redaction/scan.js';
export { isSecretKey } from './redaction/secret-keys.js';
export {
  createStreamRedactor,
  type RedactionHit,
  redactText,
  type StreamRedactor,
  streamHoldBack,
} from './redaction/stream.js';
export { type Invocation, RenderError, renderInvocation } from './render.js';
export {
  type ArchiveEntry,
  extractPackTarball,
  PackArchiveError,
  packTarball,
  readPackTarball,
  TARBALL_MAX_ENTRIES,
  TARBALL_MAX_FILE_BYTES,
  TARBALL_MAX_TOTAL_BYTES,
} from './tarball.js';
export { truncateUtf8 } from './text.js';
export type * from './types.js';
export { ARG_TYPES, RISKS } from './types.js';
