import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

/**
 * The reference pack corpus the interop tests compare against. It is not part of the
 * repository: CI places it in a folder beside the checkout, and EMISAR_REFERENCE_PACKS
 * names another place. A clone on its own does not have it.
 */
export const REFERENCE_PACKS =
  process.env.EMISAR_REFERENCE_PACKS ??
  fileURLToPath(new URL('../../../../../shared/reference/packs', import.meta.url));

/**
 * True when the reference corpus is missing, after printing one line naming the folder;
 * for `describe.skipIf(withoutReferencePacks())` around the interop tests.
 */
export function withoutReferencePacks(): boolean {
  if (existsSync(REFERENCE_PACKS)) return false;
  console.log(
    `skipping the reference pack interop tests: ${REFERENCE_PACKS} does not exist (set EMISAR_REFERENCE_PACKS to the corpus to run them)`,
  );
  return true;
}
export const REFERENCE_PACK_IDS = [
  'debugging',
  'linux-core',
  'postgres',
  'redis',
  'showcase',
] as const;
export const OUR_PACKS = fileURLToPath(new URL('../../../../packs', import.meta.url));

type Doc = Record<string, unknown>;

/** Overrides with an undefined value remove the field. */
function merge(base: Doc, overrides: Doc): Doc {
  return Object.fromEntries(
    Object.entries({ ...base, ...overrides }).filter(([, v]) => v !== undefined),
  );
}

/** A small valid exec action; tests override fields to break one rule at a time. */
export function actionDoc(overrides: Doc = {}): Doc {
  const action: Doc = {
    schema_version: 1,
    id: 'fx.echo',
    title: 'Echo a word',
    kind: 'exec',
    risk: 'low',
    description: 'Echo one word back. Used by tests.',
    side_effects: ['none'],
    args: [{ name: 'word', type: 'string', required: true, validation: { pattern: '^[a-z]+$' } }],
    execution: { command: { binary: 'echo', argv: ['{{ args.word }}'] }, timeout: '5s' },
    output: { parser: 'text', max_stdout_bytes: 1024, max_stderr_bytes: 1024 },
    examples: [{ title: 'Say hello', args: { word: 'hello' } }],
  };
  return merge(action, overrides);
}

export function manifestDoc(actions: string[], overrides: Doc = {}): Doc {
  const manifest: Doc = {
    schema_version: 1,
    id: 'fx',
    name: 'Fixture pack',
    description: 'A pack written by a test.',
    version: '0.1.0',
    actions,
  };
  return merge(manifest, overrides);
}

export interface PackSpec {
  manifest?: Doc | string;
  /** Action files by path; objects are written as YAML. */
  actions?: Record<string, Doc | string>;
  /** Other files (scripts, READMEs) by path. */
  files?: Record<string, string>;
}

function text(doc: Doc | string): string {
  return typeof doc === 'string' ? doc : stringify(doc);
}

/** Writes a pack into dir; the manifest lists the given action files unless it is given. */
export async function writePack(dir: string, spec: PackSpec = {}): Promise<string> {
  const actions = spec.actions ?? { 'actions/echo.yaml': actionDoc() };
  await mkdir(dir, { recursive: true });
  const all = {
    ...spec.files,
    ...Object.fromEntries(Object.entries(actions).map(([k, v]) => [k, text(v)])),
  };
  for (const [file, body] of Object.entries(all)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), body);
  }
  await writeFile(
    path.join(dir, 'pack.yaml'),
    text(spec.manifest ?? manifestDoc(Object.keys(actions))),
  );
  return dir;
}

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const dir = await mkdtemp(path.join(tmpdir(), 'emisar-packs-'));
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A pack with one critical action that breaks the interpreter rule
 * (`glass.run_script`: free text into `sh -c`), the same fault at low risk
 * (`glass.low_script`) and one fine action (`glass.ok`). Its parent is a packs root.
 */
export const GLASS_PACK = fileURLToPath(new URL('./glass', import.meta.url));
