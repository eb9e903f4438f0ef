import { createHash } from 'node:crypto';
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { readAction } from './action.js';
import { PackLoadError } from './errors.js';
import { hashEntries, sortEntries } from './hash.js';
import { readManifest } from './manifest.js';
import { cleanPath, isUnder } from './paths.js';
import { TARBALL_MAX_FILE_BYTES } from './tarball.js';
import { utf8Bytes } from './text.js';
import type { ActionDefinition, LoadedPack, PackFile } from './types.js';
import { YamlSource } from './yaml-source.js';

export const PACK_MANIFEST = 'pack.yaml';
const PACK_REF_MAX_BYTES = 255;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

interface PackDir {
  root: string;
  allowSymlinks: boolean;
}

/**
 * Reads a file the pack references: a relative path that stays inside the
 * pack root lexically and after resolving symlinks, through no symlink at all
 * unless the pack allows them, ending at a regular file.
 */
async function readPackFile(
  pack: PackDir,
  entry: string,
): Promise<{ file: PackFile; bytes: Buffer }> {
  const fail = (reason: string): never => {
    throw new PackLoadError(entry, reason);
  };
  if (entry === '' || entry.includes('\0')) fail('is not a valid path');
  if (entry.startsWith('/')) fail('must be relative to the pack root');
  const cleaned = cleanPath(entry);
  if (cleaned === '..' || cleaned.startsWith('../') || cleaned === '.')
    fail('leaves the pack root');
  const absolute = path.join(pack.root, cleaned);
  let walked = pack.root;
  for (const component of cleaned.split('/')) {
    walked = path.join(walked, component);
    const info = await lstat(walked).catch(() => fail('does not exist'));
    if (info.isSymbolicLink() && !pack.allowSymlinks) {
      fail('is or passes through a symbolic link (set allow_symlinks: true to permit)');
    }
  }
  const resolved = await realpath(absolute).catch(() => fail('cannot be resolved'));
  if (!isUnder(resolved, pack.root)) fail('resolves outside the pack root');
  const info = await stat(resolved);
  if (!info.isFile()) fail('is not a regular file');
  if (info.size > TARBALL_MAX_FILE_BYTES) fail('is larger than 8 MiB');
  return { file: { entry, absolutePath: absolute }, bytes: await readFile(resolved) };
}

function decode(entry: string, bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PackLoadError(entry, 'is not valid UTF-8');
  }
}

/** Loads and validates one pack directory. Throws PackLoadError naming the file and line. */
export async function loadPack(dir: string): Promise<LoadedPack> {
  const root = await realpath(dir).catch(() => {
    throw new PackLoadError(dir, 'pack directory does not exist');
  });
  const manifestInfo = await lstat(path.join(root, PACK_MANIFEST)).catch(() => {
    throw new PackLoadError(PACK_MANIFEST, 'does not exist');
  });
  const manifestBytes = await readPackFile({ root, allowSymlinks: true }, PACK_MANIFEST);
  const manifest = readManifest(
    new YamlSource(PACK_MANIFEST, decode(PACK_MANIFEST, manifestBytes.bytes)),
  );
  const pack: PackDir = { root, allowSymlinks: manifest.allowSymlinks };
  if (manifestInfo.isSymbolicLink() && !pack.allowSymlinks) {
    throw new PackLoadError(
      PACK_MANIFEST,
      'is a symbolic link (set allow_symlinks: true to permit)',
    );
  }

  const hashed: { file: PackFile; bytes: Buffer }[] = [manifestBytes];
  const actions: ActionDefinition[] = [];
  const refusedActions: LoadedPack['refusedActions'] = [];
  const ids = new Map<string, string>();
  for (const entry of manifest.actions) {
    const read = await readPackFile(pack, entry);
    hashed.push(read);
    const parsed = readAction(new YamlSource(entry, decode(entry, read.bytes)), manifest.id);
    const { action } = parsed;
    const earlier = ids.get(action.id);
    if (earlier !== undefined)
      throw new PackLoadError(entry, `action id ${action.id} is already declared in ${earlier}`);
    ids.set(action.id, entry);
    const script = action.execution.script;
    if (script !== undefined) {
      const scriptFile = await readPackFile(pack, script.path).catch((err: unknown) => {
        if (err instanceof PackLoadError)
          throw new PackLoadError(entry, `execution.script.path ${err.reason}`);
        throw err;
      });
      hashed.push(scriptFile);
      script.absolutePath = scriptFile.file.absolutePath;
      script.sha256 = createHash('sha256').update(scriptFile.bytes).digest('hex');
    }
    const { refusals } = parsed;
    if (refusals.length === 0) actions.push(action);
    else {
      const reason = refusals.map((r) => r.reason).join('; ');
      refusedActions.push({ id: action.id, file: entry, reason, refusals, action });
    }
  }
  const verify = manifest.setup.verify;
  if (verify !== undefined && !ids.has(verify)) {
    throw new PackLoadError(
      PACK_MANIFEST,
      `setup.verify names ${verify}, which is not an action of this pack`,
    );
  }

  const hash = hashEntries(hashed.map(({ file, bytes }) => ({ entry: file.entry, bytes })));
  const packRef = `${manifest.id}@${manifest.version}/${hash}`;
  if (utf8Bytes(packRef) > PACK_REF_MAX_BYTES) {
    throw new PackLoadError(
      PACK_MANIFEST,
      `pack_ref ${manifest.id}@${manifest.version} exceeds ${PACK_REF_MAX_BYTES} bytes`,
    );
  }
  return {
    id: manifest.id,
    version: manifest.version,
    dir: root,
    hash,
    packRef,
    manifest,
    actions,
    refusedActions,
    files: sortEntries(hashed.map(({ file }) => file)),
  };
}
