import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './core/config-error.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'emisar-config-'));
const secret = randomBytes(32).toString('base64');
const signingPem = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();
const postgres = {
  DATABASE_URL: 'postgres://app:hunter2@db.internal:5432/emisar',
  EMISAR_SECRET_KEY: secret,
  EMISAR_SIGNING_KEY: signingPem,
};

describe('loadConfig', () => {
  it('defaults to PGlite on loopback port 8080 with keys generated 0600 into the data dir', async () => {
    const cwd = await tempDir();
    const config = await loadConfig({}, cwd);
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      baseUrl: 'http://localhost:8080',
      secureCookies: false,
      trustProxy: false,
      storage: { kind: 'pglite', dataDir: path.join(cwd, '.emisar/data') },
      logLevel: 'info',
    });
    expect(config.secretKey).toHaveLength(32);
    expect(config.signingKey.asymmetricKeyType).toBe('ed25519');
    for (const file of ['secret.key', 'signing-key.pem']) {
      const info = await stat(path.join(config.dataDir, file));
      expect(info.mode & 0o777).toBe(0o600);
    }
    const again = await loadConfig({}, cwd);
    expect(again.secretKey.equals(config.secretKey)).toBe(true);
  });

  it('refuses a key file others can read', async () => {
    const dataDir = await tempDir();
    await writeFile(path.join(dataDir, 'secret.key'), `${secret}\n`, { mode: 0o644 });
    await expect(loadConfig({ EMISAR_DATA_DIR: dataDir })).rejects.toThrow(/chmod 600/);
  });

  it('uses PostgreSQL with the shared keys when DATABASE_URL is set', async () => {
    const config = await loadConfig({ ...postgres, EMISAR_BASE_URL: 'https://emisar.example.com' });
    expect(config.storage).toEqual({ kind: 'postgres', url: postgres.DATABASE_URL });
    expect(config.secureCookies).toBe(true);
    expect(config.secretKey.toString('base64')).toBe(secret);
  });

  it.each([
    [{ ...postgres, DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ ...postgres, DATABASE_URL: 'mysql://db/emisar' }, /postgres:\/\/ scheme/],
    [{ ...postgres, DATABASE_URL: 'postgres://db.internal' }, /names no database/],
    [{ ...postgres, EMISAR_SECRET_KEY: undefined }, /EMISAR_SECRET_KEY is required/],
    [{ ...postgres, EMISAR_SIGNING_KEY: undefined }, /EMISAR_SIGNING_KEY is required/],
    [{ ...postgres, EMISAR_SECRET_KEY: 'c2hvcnQ=' }, /32 random bytes/],
    [{ ...postgres, EMISAR_SIGNING_KEY: 'bm90IGEga2V5' }, /not a PKCS#8 private key/],
    [{ ...postgres, PORT: '70000' }, /PORT is invalid/],
    [{ ...postgres, LOG_LEVEL: 'loud' }, /LOG_LEVEL is invalid/],
    [{ ...postgres, EMISAR_BASE_URL: 'ftp://x' }, /http:\/\/ or https:\/\//],
    [{ ...postgres, EMISAR_BASE_URL: 'https://x.example/app' }, /origin only/],
    [{ ...postgres, TRUST_PROXY: '10.0.0.0/33' }, /TRUST_PROXY entry/],
    [{ ...postgres, TLS_CERT_FILE: '/nonexistent/cert.pem' }, /must be set together/],
    [{ ...postgres, RATE_LIMIT_RUNS_PER_MINUTE: '-1' }, /RATE_LIMIT_RUNS_PER_MINUTE must be/],
    [{ ...postgres, RATE_LIMIT_WRITES_PER_MINUTE: '1.5' }, /RATE_LIMIT_WRITES_PER_MINUTE/],
    [{ ...postgres, RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE: '2000000' }, /from 0 \(off\)/],
  ])('rejects bad configuration %#', async (env, message) => {
    const error = await loadConfig(env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    // Secrets from the environment never appear in the message.
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).not.toContain(secret);
  });

  it('reads the per-minute request budgets, 0 turning one off', async () => {
    expect((await loadConfig(postgres)).rateLimits).toEqual({
      runsPerMinute: 120,
      writesPerMinute: 600,
      runnerRegisterPerMinute: 60,
      runnerRefreshPerMinute: 30,
    });
    const config = await loadConfig({
      ...postgres,
      RATE_LIMIT_RUNS_PER_MINUTE: '0',
      RATE_LIMIT_WRITES_PER_MINUTE: ' 50 ',
      RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE: '5',
      RATE_LIMIT_RUNNER_REFRESH_PER_MINUTE: '',
    });
    expect(config.rateLimits).toEqual({
      runsPerMinute: 0,
      writesPerMinute: 50,
      runnerRegisterPerMinute: 5,
      runnerRefreshPerMinute: 30,
    });
  });

  it('accepts trusted proxy addresses and CIDRs', async () => {
    const config = await loadConfig({ ...postgres, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' });
    expect(config.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
  });

  it('refuses a data path that is a regular file', async () => {
    const file = path.join(await tempDir(), 'data');
    await writeFile(file, 'x');
    await expect(loadConfig({ EMISAR_DATA_DIR: file })).rejects.toThrow(/is not a directory/);
    expect(await readFile(file, 'utf8')).toBe('x');
  });
});
