export * from './canonical-json.js';
export * from './descriptor-digest.js';
export * from './enrollment.js';
export * from './exact-number.js';
export * from './frame-codec.js';
export * from './frames.js';
export * from './golden.js';
export * from './ids.js';
export {
  isJsonObject,
  isJsonValue,
  type JsonArray,
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
} from './json-value.js';
export { stringifyJson } from './json-writer.js';
export * from './limits.js';
export {
  parseStrictJson,
  StrictJsonError,
  type StrictJsonErrorCode,
  type StrictJsonOptions,
} from './strict-json.js';
export * from './text-rules.js';
