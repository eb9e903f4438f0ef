export { type ParsedAction, readAction } from './action.js';
export {
  type ArgError,
  type ArgErrorCode,
  type ValidateArgsOptions,
  type ValidateArgsResult,
  type ValidationMode,
  validateArgs,
} from './args.js';
export {
  type DegradedPack,
  type DiscoveredPacks,
  discoverPacks,
  packDirectories,
} from './discover.js';
export { formatDuration, parseDuration } from './duration.js';
export { PackLoadError } from './errors.js';
export { hashPackFiles } from './hash.js';
export { loadPack, PACK_MANIFEST } from './load.js';
export { cleanPath, isUnder } from './paths.js';
export type * from './types.js';
