import { writeFile } from 'node:fs/promises';
import { discoverPacks } from '@emisar/packs';
import type { Command } from 'commander';
import { ConfigError } from '../core/config-error.js';
import type { PublishedEntry } from './published.js';

export interface BuiltCatalog {
  entries: PublishedEntry[];
  /** Packs that failed to load (a published catalog should have none). */
  degraded: { pack: string; reason: string }[];
  /**
   * Actions the loader refuses (interpreter rule, redaction). Their pack is
   * published all the same, with its exact hash: runners never advertise them.
   */
  refused: { pack: string; action: string; reason: string }[];
}

/** The published catalog of every pack under `packsDir`: `[{pack_id, version, hash}]`. */
export async function buildCatalog(packsDir: string): Promise<BuiltCatalog> {
  const { packs, degraded } = await discoverPacks([packsDir]);
  const entries = packs
    .map((pack) => ({
      pack_id: pack.id,
      version: pack.version,
      hash: pack.hash,
      ...(pack.manifest.retiredBelow ? { retired_below: pack.manifest.retiredBelow } : {}),
    }))
    .sort((a, b) => a.pack_id.localeCompare(b.pack_id) || a.version.localeCompare(b.version));
  const refused = packs.flatMap((pack) =>
    pack.refusedActions.map((a) => ({ pack: pack.id, action: a.id, reason: a.reason })),
  );
  return { entries, degraded, refused };
}

/** `emisar-server catalog build <packs-dir> [--out file]`. */
export function registerCatalogCommands(program: Command): void {
  const catalog = program.command('catalog').description('the published pack catalog');
  catalog
    .command('build')
    .description(
      'hash every pack under <packs-dir> and write the EMISAR_CATALOG_FILE JSON ([{pack_id, version, hash}])',
    )
    .argument('<packs-dir>', 'a folder of packs (or one pack)')
    .option('--out <file>', 'write here instead of stdout')
    .option('--json', 'with --out: say what was written as JSON')
    .action(async (packsDir: string, options: { out?: string; json?: boolean }) => {
      const { entries, degraded, refused } = await buildCatalog(packsDir);
      if (degraded.length > 0) {
        const first = degraded[0]!;
        throw new ConfigError(`pack ${first.pack} does not load: ${first.reason}`);
      }
      for (const r of refused) {
        process.stderr.write(
          `pack ${r.pack}: refused action ${r.action}: ${r.reason} (published; never advertised)\n`,
        );
      }
      if (entries.length === 0) throw new ConfigError(`no packs found under ${packsDir}`);
      const text = `${JSON.stringify(entries, null, 2)}\n`;
      if (options.out) {
        await writeFile(options.out, text);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ out: options.out, packs: entries.length })}\n`);
        } else process.stderr.write(`wrote ${entries.length} pack(s) to ${options.out}\n`);
      } else process.stdout.write(text);
    });
}
