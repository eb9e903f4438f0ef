import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './test-support/database.js';
import { runServerCommand, startServerProcess } from './test-support/server-process.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'emisar-server-'));
const sharedKeys = {
  EMISAR_SECRET_KEY: randomBytes(32).toString('base64'),
  EMISAR_SIGNING_KEY: generateKeyPairSync('ed25519')
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString(),
};

/** One stderr line, exit code 2, no stack trace. */
function expectConfigFailure(result: { code: number | null; stderr: string }, message: RegExp) {
  expect(result.code).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^emisar-server: /);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

// Each test spawns the built server; on a busy machine start-up alone can take most of a minute.
describe('emisar-server start', { timeout: 180_000 }, () => {
  let database: TestDatabase;
  let storageEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase();
    storageEnv = database.url
      ? { DATABASE_URL: database.url, ...sharedKeys }
      : { EMISAR_DATA_DIR: await tempDir() };
  });

  afterAll(async () => {
    await database.drop();
  });

  it('migrates, serves health and readiness, keeps query strings out of logs, stops on SIGTERM', async () => {
    const server = await startServerProcess(storageEnv);
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready' });
      const missing = await fetch(`${server.url}/no-such-page?code=S3CRET-CODE-123`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { id: 'not_found' } });
      await expect.poll(() => server.output()).toContain('/no-such-page');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(server.output()).not.toContain('S3CRET-CODE-123');
    expect(server.output()).toContain('shutting down');
  });

  it('migrates on its own with `migrate`, then finds nothing to do', async () => {
    const first = await runServerCommand(['migrate'], storageEnv);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/up to date|applied/);
    const second = await runServerCommand(['migrate'], storageEnv);
    expect(second).toMatchObject({ code: 0, stdout: 'database is up to date\n' });
    const json = await runServerCommand(['migrate', '--json'], storageEnv);
    expect(json).toMatchObject({ code: 0, stdout: '{"applied":[]}\n' });
  });

  it('terminates TLS itself with TLS 1.2 as the floor', async () => {
    const dir = await tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    const server = await startServerProcess({
      ...storageEnv,
      TLS_CERT_FILE: cert,
      TLS_KEY_FILE: key,
    });
    const get = (options: https.RequestOptions) =>
      new Promise<number>((resolve, reject) => {
        https
          .get(`${server.url}/healthz`, { rejectUnauthorized: false, ...options }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    try {
      expect(server.url).toMatch(/^https:/);
      expect(await get({})).toBe(200);
      await expect(get({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});

describe('emisar-server refuses bad configuration with one line and exit code 2', () => {
  it('a malformed DATABASE_URL', async () => {
    const result = await runServerCommand(['start'], {
      ...sharedKeys,
      DATABASE_URL: 'postgres://user:pa ss@/',
    });
    expectConfigFailure(result, /DATABASE_URL/);
    expect(result.stderr).not.toContain('pa ss');
  });

  it('a DATABASE_URL nobody answers at', async () => {
    const result = await runServerCommand(['start'], {
      ...sharedKeys,
      DATABASE_URL: 'postgres://app:hunter2@127.0.0.1:1/emisar',
    });
    expectConfigFailure(
      result,
      /cannot reach the database \(PostgreSQL at 127\.0\.0\.1:1\/emisar\): connection refused; start PostgreSQL there/,
    );
    expect(result.stderr).not.toContain('hunter2');
  });

  it('migrate asks for the database alone, not the keys', async () => {
    const result = await runServerCommand(['migrate'], {
      DATABASE_URL: 'postgres://app:hunter2@127.0.0.1:1/emisar',
    });
    expectConfigFailure(result, /cannot reach the database .*connection refused/);
  });

  it('a data path that is a regular file', async () => {
    const file = path.join(await tempDir(), 'data');
    await writeFile(file, '');
    expectConfigFailure(
      await runServerCommand(['start'], { EMISAR_DATA_DIR: file }),
      /not a directory/,
    );
  });

  it('PostgreSQL without EMISAR_SECRET_KEY', async () => {
    const result = await runServerCommand(['start'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/emisar',
      EMISAR_SIGNING_KEY: sharedKeys.EMISAR_SIGNING_KEY,
    });
    expectConfigFailure(
      result,
      /EMISAR_SECRET_KEY is required with DATABASE_URL: the keys that sign session cookies and encrypt TOTP seeds, queued mail and run arguments derive from it, so every node must share the same one \(make it with `openssl rand -base64 32`\)$/,
    );
  });

  it('invalid TLS files', async () => {
    const dir = await tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    await writeFile(cert, 'not a certificate');
    await writeFile(key, 'not a key');
    const env = { EMISAR_DATA_DIR: path.join(dir, 'data'), TLS_CERT_FILE: cert, TLS_KEY_FILE: key };
    expectConfigFailure(
      await runServerCommand(['start'], env),
      /not a matching PEM certificate and key/,
    );
    const missing = { ...env, TLS_KEY_FILE: path.join(dir, 'absent.pem') };
    expectConfigFailure(
      await runServerCommand(['start'], missing),
      /TLS_KEY_FILE .* cannot be read: ENOENT/,
    );
  });

  it('an unknown command', async () => {
    const result = await runServerCommand(['frobnicate'], {});
    expect(result.code).toBe(2);
  });
});
