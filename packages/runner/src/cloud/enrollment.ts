import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { RunnerTokenResponseSchema } from '@emisar/protocol';
import type { RunnerConfig } from '../config/config.js';
import { errorMessage } from '../fs-util.js';
import { keyFingerprint, readTokenFile, type TokenFile, writeTokenFile } from './token.js';

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
  constructor(
    readonly status: number,
    readonly code: string,
    /** From `Retry-After` on a 429 or 503: how long the control plane asked to wait. */
    readonly retryAfterMs?: number,
    /** The control plane's hint on what to do, e.g. how to pick another runner name. */
    readonly hint?: string,
  ) {
    super(`enrollment refused (${status} ${code})${hint ? `: ${hint}` : ''}`);
  }

  /** Too many requests or a passing server problem: worth trying again later. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** `https://cp/x` → `https://cp/x/<path>` (a base path is kept). */
export function cloudUrl(base: string, path: string, websocket = false): URL {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  if (websocket)
    url.protocol =
      url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol;
  return url;
}

async function postToken(url: URL, bearer: string, body: unknown): Promise<TokenFile> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
    redirect: 'error',
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const { error: code, hint } = (json ?? {}) as { error?: unknown; hint?: unknown };
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new EnrollmentError(
      response.status,
      typeof code === 'string' ? code.slice(0, 64) : 'http_error',
      Number.isSafeInteger(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      typeof hint === 'string' ? hint.slice(0, 500) : undefined,
    );
  }
  const parsed = RunnerTokenResponseSchema.safeParse(json);
  if (!parsed.success) throw new EnrollmentError(response.status, 'malformed_response');
  return { token: parsed.data.token, key_fp: '', refresh_after: parsed.data.refresh_after };
}

export interface CredentialOptions {
  config: RunnerConfig;
  url: string;
  tokenPath: string;
  env: NodeJS.ProcessEnv;
  version: string;
  log: (message: string) => void;
}

/**
 * The token to connect with: the stored one, or a fresh registration when there
 * is none or the enrollment key changed. A bad token file is an error, never
 * silently replaced.
 */
export async function obtainToken(options: CredentialOptions): Promise<TokenFile> {
  const { config, tokenPath, env } = options;
  const key = env[config.cloud.enrollmentKeyEnv];
  const stored = await readTokenFile(tokenPath);
  if (stored && (!key || stored.key_fp === keyFingerprint(key))) return stored;
  if (!key) {
    throw new EnrollmentError(
      0,
      `no_token: no token at ${tokenPath} and $${config.cloud.enrollmentKeyEnv} is unset`,
    );
  }
  options.log(
    stored ? 'enrollment key changed; registering again' : 'registering with the control plane',
  );
  const issued = await postToken(cloudUrl(options.url, 'runner/register'), key, {
    external_id: config.runner.id,
    hostname: hostname(),
    ...(config.runner.group ? { group: config.runner.group } : {}),
    labels: config.runner.labels,
    version: options.version,
  });
  const token = { ...issued, key_fp: keyFingerprint(key) };
  await writeTokenFile(tokenPath, token);
  return token;
}

/** Refreshes when due; any failure keeps the old token. */
export async function refreshIfDue(
  options: CredentialOptions,
  current: TokenFile,
  now = new Date(),
): Promise<TokenFile> {
  if (Date.parse(current.refresh_after) > now.getTime()) return current;
  try {
    const issued = await postToken(
      cloudUrl(options.url, 'runner/token/refresh'),
      current.token,
      {},
    );
    const token = { ...issued, key_fp: current.key_fp };
    await writeTokenFile(options.tokenPath, token);
    options.log('runner token refreshed');
    return token;
  } catch (error) {
    options.log(`token refresh failed, keeping the current token: ${errorMessage(error)}`);
    return current;
  }
}

export async function discardToken(tokenPath: string): Promise<void> {
  await rm(tokenPath, { force: true });
}
