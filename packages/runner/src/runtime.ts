import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunnerConfig } from './config/config.js';
import { requireJournalPath } from './config/config.js';
import type { EngineDeps } from './engine/engine.js';
import { type Containment, detectContainment } from './exec/cgroup.js';
import { detectSetpriv, type Setpriv } from './exec/setpriv.js';
import { Journal } from './journal/journal.js';

/** The directories no path argument may point into. */
export function protectedPaths(config: RunnerConfig): string[] {
  const paths = new Set<string>();
  if (config.paths.dataDir) paths.add(config.paths.dataDir);
  if (config.path) paths.add(dirname(config.path));
  if (config.cloud.tokenPath) paths.add(dirname(config.cloud.tokenPath));
  return [...paths];
}

export interface Isolation {
  containment: Containment;
  setpriv: Setpriv | undefined;
}

export async function detectIsolation(): Promise<Isolation> {
  const [containment, setpriv] = await Promise.all([
    detectContainment(),
    detectSetpriv(process.env.PATH),
  ]);
  return { containment, setpriv };
}

export async function openJournal(config: RunnerConfig): Promise<Journal> {
  const path = requireJournalPath(config);
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  return Journal.open({
    path,
    maxSizeBytes: config.events.maxSizeBytes,
    maxBackups: config.events.maxBackups,
  });
}

export function engineDeps(
  config: RunnerConfig,
  journal: Journal,
  isolation: Isolation,
): EngineDeps {
  return {
    config,
    journal,
    containment: isolation.containment,
    setpriv: isolation.setpriv,
    protectedPaths: protectedPaths(config),
  };
}
