import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  discoverPacks,
  extractPackTarball,
  type LoadedPack,
  loadPack,
  packTarball,
  TARBALL_MAX_TOTAL_BYTES,
} from '@emisar/packs';
import { isLoopbackHost, type RunnerConfig } from '../config/config.js';
import { fsyncDir } from '../fs-util.js';
import { lockHolder } from '../state/lock.js';

export class PackInstallError extends Error {
  override readonly name = 'PackInstallError';
}

export interface InstallOptions {
  config: RunnerConfig;
  /** A pack directory, a .tar.gz file, or an https:// URL of one. */
  source: string;
  /** `sha256:<hex>`: the installed pack must hash to exactly this (required for URLs). */
  expectedHash?: string | undefined;
  mode: 'install' | 'update';
}

export interface InstallOutcome {
  pack: LoadedPack;
  dir: string;
  replaced: boolean;
  /** PID of the daemon that was told to reload, if one runs. */
  reloaded: number | undefined;
}

/** The folder packs are installed into: the first configured packs path. */
export function installRoot(config: RunnerConfig): string {
  const root = config.paths.packs[0];
  if (!root) throw new PackInstallError('paths.packs is empty: nowhere to install');
  return root;
}

/**
 * Installs (or updates) one pack: the source is loaded with the full loader and
 * re-packed as the canonical archive of exactly its hashed files, that archive is
 * unpacked beside the target and loaded again (the hash must not change, and
 * must equal --hash when given), then swapped into place with renames and the
 * daemon is told to reload.
 */
export async function installPack(options: InstallOptions): Promise<InstallOutcome> {
  const root = installRoot(options.config);
  await mkdir(root, { recursive: true, mode: 0o755 });
  const stamp = `${process.pid}-${Date.now()}`;
  const staging = join(root, `.install-${stamp}`);
  try {
    const archive = await sourceArchive(options);
    await extractPackTarball(archive, staging);
    const pack = await loadPack(staging);
    if (options.expectedHash !== undefined && pack.hash !== options.expectedHash) {
      throw new PackInstallError(
        `hash mismatch: expected ${options.expectedHash}, got ${pack.hash}`,
      );
    }
    const target = join(root, pack.id);
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (options.mode === 'install' && exists) {
      throw new PackInstallError(
        `pack ${pack.id} is already installed at ${target}; use pack update`,
      );
    }
    if (options.mode === 'update' && !exists) {
      throw new PackInstallError(`pack ${pack.id} is not installed; use pack install`);
    }
    const old = join(root, `.old-${pack.id}-${stamp}`);
    if (exists) await rename(target, old);
    await rename(staging, target);
    await fsyncDir(root);
    await rm(old, { recursive: true, force: true });
    const installed = await loadPack(target);
    return {
      pack: installed,
      dir: target,
      replaced: exists,
      reloaded: await reloadDaemon(options.config),
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function sourceArchive(options: InstallOptions): Promise<Uint8Array> {
  const { source } = options;
  if (/^[a-z]+:\/\//i.test(source)) {
    if (options.expectedHash === undefined) {
      throw new PackInstallError('installing from a URL needs --hash sha256:… (pinning)');
    }
    const url = new URL(source);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new PackInstallError('pack URLs must be https:// (plain http only to loopback)');
    }
    const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new PackInstallError(`download failed: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > TARBALL_MAX_TOTAL_BYTES)
      throw new PackInstallError('archive exceeds 32 MiB');
    return bytes;
  }
  const info = await stat(source).catch(() => {
    throw new PackInstallError(
      /^[a-z][a-z0-9_.-]*(=[^/]+)?$/.test(source)
        ? `${source}: installing by name needs a pack registry, which this runner does not have yet; pass a directory, a .tar.gz or an https URL`
        : `${source} does not exist`,
    );
  });
  if (info.isDirectory()) return packTarball(await loadPack(source));
  if (info.size > TARBALL_MAX_TOTAL_BYTES) throw new PackInstallError('archive exceeds 32 MiB');
  return readFile(source);
}

/** Removes an installed pack (from the install folder only) and reloads the daemon. */
export async function uninstallPack(
  config: RunnerConfig,
  id: string,
): Promise<{ dir: string; reloaded: number | undefined }> {
  const root = installRoot(config);
  const { packs } = await discoverPacks([root]);
  const pack = packs.find((p) => p.id === id);
  if (!pack) throw new PackInstallError(`pack ${id} is not installed in ${root}`);
  const old = join(root, `.old-${id}-${process.pid}-${Date.now()}`);
  await rename(pack.dir, old);
  await fsyncDir(root);
  await rm(old, { recursive: true, force: true });
  return { dir: pack.dir, reloaded: await reloadDaemon(config) };
}

/** SIGHUP to the daemon named by runner.lock, if it runs. */
export async function reloadDaemon(config: RunnerConfig): Promise<number | undefined> {
  if (!config.paths.dataDir) return undefined;
  const pid = await lockHolder(join(config.paths.dataDir, 'runner.lock'));
  if (pid === undefined) return undefined;
  process.kill(pid, 'SIGHUP');
  return pid;
}
