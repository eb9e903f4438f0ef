import { readdir, readFile } from 'node:fs/promises';
import type { LoadedPack } from '@emisar/packs';
import { findExecutable } from '../exec/executable.js';

export interface Suggestion {
  pack: string;
  version: string;
  dir: string;
  score: number;
  matched: { binaries: string[]; processes: string[]; ports: number[] };
}

export interface HostFacts {
  pathEnv: string;
  processes: Set<string>;
  listeningPorts: Set<number>;
}

/** Names of running processes (comm and argv[0] basename) and the TCP ports in LISTEN. */
export async function readHostFacts(pathEnv: string): Promise<HostFacts> {
  const processes = new Set<string>();
  for (const pid of (await readdir('/proc').catch(() => [] as string[])).filter((d) =>
    /^\d+$/.test(d),
  )) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim()) processes.add(comm.trim());
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const argv0 = cmdline.split('\0')[0];
    if (argv0) processes.add(argv0.split('/').at(-1)!);
  }
  const listeningPorts = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st 0A = LISTEN; local_address is HEXIP:HEXPORT.
      if (fields[3] === '0A') listeningPorts.add(Number.parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return { pathEnv, processes, listeningPorts };
}

/**
 * Scores packs by their detect rules: binaries on PATH and running processes
 * suggest a pack; listening ports only add weight (a port alone never suggests).
 */
export async function suggestPacks(packs: LoadedPack[], facts: HostFacts): Promise<Suggestion[]> {
  const suggestions: Suggestion[] = [];
  for (const pack of packs) {
    const { detect } = pack.manifest;
    const binaries: string[] = [];
    for (const binary of detect.binaries) {
      if (await findExecutable(binary, facts.pathEnv)) binaries.push(binary);
    }
    const processes = detect.processes.filter((name) => facts.processes.has(name));
    const ports = detect.ports.filter((port) => facts.listeningPorts.has(port));
    if (binaries.length === 0 && processes.length === 0) continue;
    suggestions.push({
      pack: pack.id,
      version: pack.version,
      dir: pack.dir,
      score: binaries.length * 2 + processes.length * 3 + ports.length,
      matched: { binaries, processes, ports },
    });
  }
  return suggestions.sort((a, b) => b.score - a.score || a.pack.localeCompare(b.pack));
}
