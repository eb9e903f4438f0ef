import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringifyJson } from './json-writer.js';
import { parseStrictJson } from './strict-json.js';

/**
 * The golden files, for both ends' tests. They sit beside src/ and dist/, so
 * these paths resolve from either. GOLDEN_FRAMES_PATH: one example of every frame.
 */
export const GOLDEN_FRAMES_PATH = fileURLToPath(
  new URL('../golden/frames.golden.json', import.meta.url),
);

/** Example enrollment HTTP bodies: register_request, token_response, error_bodies[]. */
export const GOLDEN_ENROLLMENT_PATH = fileURLToPath(
  new URL('../golden/enrollment.golden.json', import.meta.url),
);

/** Each golden frame as its own compact JSON text, numbers exactly as written in the file. */
export function readGoldenFrames(): string[] {
  const frames = parseStrictJson(readFileSync(GOLDEN_FRAMES_PATH));
  if (!Array.isArray(frames)) throw new TypeError('golden file must hold a JSON array');
  return frames.map(stringifyJson);
}
