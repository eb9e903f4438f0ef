import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PackLoadError } from './errors.js';
import { loadPack, PACK_MANIFEST } from './load.js';
import { truncateUtf8 } from './text.js';
import type { LoadedPack } from './types.js';

export const DEGRADED_REASON_MAX_BYTES = 500;

export interface DegradedPack {
  /** The pack's directory name. */
  pack: string;
  /** ≤500 bytes. */
  reason: string;
}

export interface DiscoveredPacks {
  packs: LoadedPack[];
  degraded: DegradedPack[];
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/**
 * The pack directories under one configured path: the path itself when it
 * holds pack.yaml, else each non-dot child directory that does, by name.
 * A missing path has none.
 */
export async function packDirectories(packsPath: string): Promise<string[]> {
  if (!(await isDirectory(packsPath))) return [];
  if (await exists(path.join(packsPath, PACK_MANIFEST))) return [packsPath];
  const children = (await readdir(packsPath)).filter((name) => !name.startsWith('.')).sort();
  const dirs: string[] = [];
  for (const name of children) {
    const dir = path.join(packsPath, name);
    if ((await isDirectory(dir)) && (await exists(path.join(dir, PACK_MANIFEST)))) dirs.push(dir);
  }
  return dirs;
}

function reasonOf(err: unknown): string {
  const message =
    err instanceof PackLoadError ? err.message : `unexpected error: ${(err as Error).message}`;
  return truncateUtf8(message, DEGRADED_REASON_MAX_BYTES);
}

/**
 * Loads every pack under the configured paths, in path order. A pack that
 * fails to load, or that declares an action id (or pack id) an earlier pack
 * already holds, is skipped and reported as degraded.
 */
export async function discoverPacks(paths: string[]): Promise<DiscoveredPacks> {
  const packs: LoadedPack[] = [];
  const degraded: DegradedPack[] = [];
  const actionOwners = new Map<string, string>();
  const packIds = new Set<string>();
  for (const packsPath of paths) {
    for (const dir of await packDirectories(packsPath)) {
      const name = path.basename(dir);
      let pack: LoadedPack;
      try {
        pack = await loadPack(dir);
      } catch (err) {
        degraded.push({ pack: name, reason: reasonOf(err) });
        continue;
      }
      if (packIds.has(pack.id)) {
        degraded.push({ pack: name, reason: `duplicate_pack_id: ${pack.id} is already loaded` });
        continue;
      }
      const taken = [...pack.actions, ...pack.refusedActions].find((a) => actionOwners.has(a.id));
      if (taken !== undefined) {
        const reason = `duplicate_action_id: ${taken.id} is already declared by pack ${actionOwners.get(taken.id)}`;
        degraded.push({ pack: name, reason: truncateUtf8(reason, DEGRADED_REASON_MAX_BYTES) });
        continue;
      }
      packIds.add(pack.id);
      for (const a of [...pack.actions, ...pack.refusedActions]) actionOwners.set(a.id, pack.id);
      packs.push(pack);
    }
  }
  return { packs, degraded };
}
