import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../core/config-error.js';

/** One entry of the published catalog (`EMISAR_CATALOG_FILE`, written by `catalog build`). */
export const PublishedEntrySchema = z.strictObject({
  pack_id: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** The pack's `retired_below`: versions of this pack below it are retired. */
  retired_below: z
    .string()
    .regex(/^\d+(\.\d+)*$/)
    .optional(),
});
export type PublishedEntry = z.infer<typeof PublishedEntrySchema>;

const CATALOG_MAX_BYTES = 16 * 1024 * 1024;

/** The hashes we publish: trusted on first sighting; their `retired_below` retires older versions. */
export interface PublishedCatalog {
  lists(packId: string, version: string, hash: string): boolean;
  retires(packId: string, version: string): boolean;
  readonly size: number;
}

export function publishedCatalog(entries: readonly PublishedEntry[]): PublishedCatalog {
  const hashes = new Set(entries.map((e) => `${e.pack_id}@${e.version}/${e.hash}`));
  const retiredBelow = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.retired_below) continue;
    const current = retiredBelow.get(entry.pack_id);
    if (!current || compareDotted(entry.retired_below, current) > 0) {
      retiredBelow.set(entry.pack_id, entry.retired_below);
    }
  }
  return {
    lists: (packId, version, hash) => hashes.has(`${packId}@${version}/${hash}`),
    retires(packId, version) {
      const below = retiredBelow.get(packId);
      return below !== undefined && compareDotted(version, below) < 0;
    },
    size: hashes.size,
  };
}

export const EMPTY_CATALOG = publishedCatalog([]);

/** Reads and checks the catalog file; any problem is a ConfigError naming the file. */
export async function loadPublishedCatalog(file: string | undefined): Promise<PublishedCatalog> {
  if (!file) return EMPTY_CATALOG;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `EMISAR_CATALOG_FILE ${file} cannot be read: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  if (text.length > CATALOG_MAX_BYTES) {
    throw new ConfigError(`EMISAR_CATALOG_FILE ${file} is larger than 16 MiB`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`EMISAR_CATALOG_FILE ${file} is not JSON`);
  }
  const parsed = z.array(PublishedEntrySchema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `EMISAR_CATALOG_FILE ${file}: entry ${issue?.path.join('.') ?? ''} is invalid (${issue?.code ?? 'bad value'})`,
    );
  }
  return publishedCatalog(parsed.data);
}

/**
 * Orders versions by their leading dotted-numeric part (`1.10.0` > `1.9.2`);
 * a version with no numeric start sorts first.
 */
export function compareDotted(a: string, b: string): number {
  const parts = (v: string) => (/^\d+(?:\.\d+)*/.exec(v)?.[0] ?? '').split('.').filter(Boolean);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = Number(x[i] ?? 0) - Number(y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
