import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../core/errors.js';

/** The single-file runner this server hands out, and the version it reports. */
export interface RunnerDownload {
  version: string;
  /** `emisar.mjs`; its SHA-256 sits beside it as `emisar.mjs.sha256`. */
  file: string;
}

const NOT_HERE = 'This server has no runner file for that version.';

/**
 * `GET /downloads/runner/<version>/emisar.mjs` and `.sha256`: the runner as one file
 * for hosts without a checkout. Public, like any download page; read once, then served
 * from memory.
 */
export function registerRunnerDownloadRoutes(
  app: FastifyInstance,
  download: RunnerDownload | undefined,
): void {
  const cache = new Map<string, Promise<Buffer>>();
  const read = (file: string) => {
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = readFile(file);
      cache.set(file, bytes);
      bytes.catch(() => cache.delete(file));
    }
    return bytes.catch(() => {
      throw new NotFoundError('The runner file is not built on this server.', 'not_found');
    });
  };
  const serve = (suffix: string, type: string) =>
    app.get(`/downloads/runner/:version/emisar.mjs${suffix}`, async (request, reply) => {
      const { version } = request.params as { version: string };
      if (!download || version !== download.version) throw new NotFoundError(NOT_HERE);
      const body = await read(`${download.file}${suffix}`);
      return reply
        .header('content-type', type)
        .header('cache-control', 'public, max-age=86400, immutable')
        .send(body);
    });
  serve('', 'text/javascript; charset=utf-8');
  serve('.sha256', 'text/plain; charset=utf-8');
}
