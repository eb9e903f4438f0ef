export { type ActionDescriptor, descriptorDigest } from '@emisar/protocol';
export { type ParsedAction, readAction } from './action.js';
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
export { type ClampedOpts, clampOpts, type RunOpts } from './opts.js';
export { cleanPath, isUnder } from './paths.js';
export { type Invocation, RenderError, renderInvocation } from './render.js';
export type * from './types.js';
