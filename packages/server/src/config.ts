import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { type AuditConfig, parseAuditConfig } from './audit/index.js';
import { ConfigError } from './core/config-error.js';
import type { StorageTarget } from './db/database.js';
import { parseTimingConfig, type RunnerDownload, type TimingConfig } from './fleet/index.js';
import { parseRateLimitConfig, type RateLimitConfig } from './http/rate-limit-config.js';
import { type MailConfig, parseMailConfig } from './mail/index.js';

export interface ServerConfig {
  port: number;
  host: string;
  baseUrl: string;
  secureCookies: boolean;
  trustProxy: string[] | false;
  storage: StorageTarget;
  dataDir: string;
  secretKey: Buffer;
  signingKey: KeyObject;
  tls: { cert: Buffer; key: Buffer } | undefined;
  logLevel: LogLevel;
  audit: AuditConfig;
  mail: MailConfig;
  timing: TimingConfig;
  rateLimits: RateLimitConfig;
  /** `EMISAR_CATALOG_FILE`: published pack hashes trusted on first sighting. */
  catalogFile: string | undefined;
  /** The single-file runner served under /downloads (absent when the runner package is missing). */
  runnerDownload: RunnerDownload | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

const blankToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const optionalText = z.preprocess(blankToUndefined, z.string().optional());

const environmentSchema = z.object({
  PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535).default(8080)),
  HOST: z.preprocess(blankToUndefined, z.string().default('127.0.0.1')),
  EMISAR_BASE_URL: optionalText,
  TRUST_PROXY: optionalText,
  DATABASE_URL: optionalText,
  EMISAR_DATA_DIR: optionalText,
  EMISAR_SECRET_KEY: optionalText,
  EMISAR_SIGNING_KEY: optionalText,
  TLS_CERT_FILE: optionalText,
  TLS_KEY_FILE: optionalText,
  LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(LOG_LEVELS).default('info')),
  AUDIT_CHECKPOINT_INTERVAL: optionalText,
  AUDIT_RETENTION_INTERVAL: optionalText,
  SMTP_URL: optionalText,
  POSTMARK_TOKEN: optionalText,
  MAIL_FROM: optionalText,
  EMISAR_DEV_MAILBOX: optionalText,
  EMISAR_CATALOG_FILE: optionalText,
  HEARTBEAT_TIMEOUT: optionalText,
  RUNNER_LEASE: optionalText,
  DISPATCH_GRACE: optionalText,
  SENT_DEADLINE: optionalText,
  RUN_DEADLINE: optionalText,
  APPROVAL_TTL: optionalText,
  RUNNER_TOKEN_TTL: optionalText,
  SWEEP_INTERVAL: optionalText,
  RATE_LIMIT_RUNS_PER_MINUTE: optionalText,
  RATE_LIMIT_WRITES_PER_MINUTE: optionalText,
  RATE_LIMIT_RUNNER_REGISTER_PER_MINUTE: optionalText,
  RATE_LIMIT_RUNNER_REFRESH_PER_MINUTE: optionalText,
});

function fieldProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const field = issue?.path.join('.') ?? 'environment';
  // Never echo the value: it may be a secret.
  return `${field} is invalid: ${issue?.message ?? 'bad value'}`;
}

function parseEnvironment(env: NodeJS.ProcessEnv) {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(fieldProblem(parsed.error));
  return parsed.data;
}

async function storageOf(
  e: { DATABASE_URL?: string | undefined; EMISAR_DATA_DIR?: string | undefined },
  cwd: string,
): Promise<{ storage: StorageTarget; dataDir: string }> {
  const dataDir = path.resolve(cwd, e.EMISAR_DATA_DIR ?? '.emisar/data');
  if (e.DATABASE_URL)
    return { storage: { kind: 'postgres', url: parseDatabaseUrl(e.DATABASE_URL) }, dataDir };
  await ensureDataDir(dataDir);
  return { storage: { kind: 'pglite', dataDir }, dataDir };
}

/** Where the data lives, and nothing else: enough for `migrate`, which touches no sealed data. */
export async function loadStorageConfig(
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<StorageTarget> {
  return (await storageOf(parseEnvironment(env), cwd)).storage;
}

export async function loadConfig(
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<ServerConfig> {
  const e = parseEnvironment(env);
  const baseUrl = parseBaseUrl(e.EMISAR_BASE_URL ?? `http://localhost:${e.PORT}`);
  const { storage, dataDir } = await storageOf(e, cwd);
  const secretKey = await resolveSecretKey(e.EMISAR_SECRET_KEY, storage, dataDir);
  const signingKey = await resolveSigningKey(e.EMISAR_SIGNING_KEY, storage, dataDir);

  return {
    port: e.PORT,
    host: e.HOST,
    baseUrl,
    secureCookies: baseUrl.startsWith('https:'),
    trustProxy: e.TRUST_PROXY ? parseTrustProxy(e.TRUST_PROXY) : false,
    storage,
    dataDir,
    secretKey,
    signingKey,
    tls: await loadTls(e.TLS_CERT_FILE, e.TLS_KEY_FILE),
    logLevel: e.LOG_LEVEL,
    audit: parseAuditConfig(e),
    mail: parseMailConfig(e, e.HOST),
    timing: parseTimingConfig(e),
    rateLimits: parseRateLimitConfig(e),
    catalogFile: e.EMISAR_CATALOG_FILE ? path.resolve(cwd, e.EMISAR_CATALOG_FILE) : undefined,
    runnerDownload: builtRunner(),
  };
}

function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('EMISAR_BASE_URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('EMISAR_BASE_URL must start with http:// or https://');
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new ConfigError('EMISAR_BASE_URL must be an origin only (scheme, host and port)');
  }
  return url.origin;
}

function parseDatabaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      'DATABASE_URL is not a valid URL (expected postgres://user@host:port/db)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL must use the postgres:// scheme');
  }
  if (!url.hostname && !url.searchParams.get('host')) {
    throw new ConfigError('DATABASE_URL names no host');
  }
  if (url.pathname.length <= 1) throw new ConfigError('DATABASE_URL names no database');
  return text;
}

function parseTrustProxy(text: string): string[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 4 ? 32 : 128;
    const prefixOk =
      prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (!family || !prefixOk || extra !== undefined) {
      throw new ConfigError(`TRUST_PROXY entry "${entry}" is not an IP address or CIDR`);
    }
  }
  return entries;
}

async function ensureDataDir(dataDir: string): Promise<void> {
  const existing = await stat(dataDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new ConfigError(`EMISAR_DATA_DIR ${dataDir} exists and is not a directory`);
  }
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(
      `cannot create data directory ${dataDir}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

async function resolveSecretKey(
  value: string | undefined,
  storage: StorageTarget,
  dataDir: string,
): Promise<Buffer> {
  const decode = (text: string, origin: string) => {
    const bytes = Buffer.from(text.trim(), 'base64');
    if (bytes.length !== 32 || !/^[A-Za-z0-9+/]+=*$/.test(text.trim())) {
      throw new ConfigError(
        `${origin} must be 32 random bytes in base64 (openssl rand -base64 32)`,
      );
    }
    return bytes;
  };
  if (value) return decode(value, 'EMISAR_SECRET_KEY');
  if (storage.kind === 'postgres') {
    throw new ConfigError(
      'EMISAR_SECRET_KEY is required with DATABASE_URL: the keys that sign session cookies and encrypt TOTP seeds, queued mail and run arguments derive from it, so every node must share the same one (make it with `openssl rand -base64 32`)',
    );
  }
  const file = path.join(dataDir, 'secret.key');
  const text = await readKeyFile(file, () => randomBytes(32).toString('base64'));
  return decode(text, file);
}

async function resolveSigningKey(
  value: string | undefined,
  storage: StorageTarget,
  dataDir: string,
): Promise<KeyObject> {
  const decode = (text: string, origin: string) => {
    let key: KeyObject;
    try {
      key = text.includes('-----BEGIN')
        ? createPrivateKey(text)
        : createPrivateKey({
            key: Buffer.from(text.trim(), 'base64'),
            format: 'der',
            type: 'pkcs8',
          });
    } catch {
      throw new ConfigError(`${origin} is not a PKCS#8 private key (PEM or base64 DER)`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError(`${origin} must be an Ed25519 private key`);
    }
    return key;
  };
  if (value) return decode(value, 'EMISAR_SIGNING_KEY');
  if (storage.kind === 'postgres') {
    throw new ConfigError(
      "EMISAR_SIGNING_KEY is required with DATABASE_URL: it signs the audit log's head statements, so every node must share the same one (make it with `openssl genpkey -algorithm ed25519`)",
    );
  }
  const file = path.join(dataDir, 'signing-key.pem');
  const text = await readKeyFile(file, () =>
    generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  );
  return decode(text, file);
}

/** Reads a key file from the data dir, creating it (mode 0600) on first start. */
async function readKeyFile(file: string, generate: () => string): Promise<string> {
  const info = await lstat(file).catch(() => undefined);
  if (!info) {
    const text = generate();
    try {
      await writeFile(file, `${text.trim()}\n`, { mode: 0o600, flag: 'wx' });
      return text;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code}`);
      }
      return readKeyFile(file, generate);
    }
  }
  if (!info.isFile()) throw new ConfigError(`${file} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(`${file} is readable by group or others; run chmod 600 on it`);
  }
  return readFile(file, 'utf8');
}

async function loadTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<ServerConfig['tls']> {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  const read = async (file: string, name: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new ConfigError(
        `${name} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
  };
  const cert = await read(certFile, 'TLS_CERT_FILE');
  const key = await read(keyFile, 'TLS_KEY_FILE');
  try {
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch {
    throw new ConfigError(
      'TLS_CERT_FILE and TLS_KEY_FILE are not a matching PEM certificate and key',
    );
  }
  return { cert, key };
}

/** The runner package's bundle (`npm run build` writes dist/emisar.mjs) and its version. */
function builtRunner(): RunnerDownload | undefined {
  try {
    const dist = path.dirname(createRequire(import.meta.url).resolve('@emisar/runner'));
    const pkg = JSON.parse(readFileSync(path.join(dist, '..', 'package.json'), 'utf8'));
    return { version: String(pkg.version), file: path.join(dist, 'emisar.mjs') };
  } catch {
    return undefined;
  }
}
