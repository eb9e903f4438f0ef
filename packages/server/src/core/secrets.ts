import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets: `prefix + base64url(32 random bytes)`. The database keeps a
 * short lookup string (to find the row) and the SHA-256 of the whole secret
 * (to check it); the secret itself is shown once and never stored.
 */
export const SECRET_PREFIX = {
  apiKey: 'emk-',
  enrollmentKey: 'emkey-enroll-',
  bootstrap: 'embs-',
  emailConfirmation: 'emcf-',
  passwordReset: 'empr-',
  invitation: 'eminv-',
  session: 'emss-',
  runnerToken: 'rnrtok-',
} as const;
export type SecretPrefix = (typeof SECRET_PREFIX)[keyof typeof SECRET_PREFIX];

const BODY_CHARS = 43; // base64url of 32 bytes, unpadded
const LOOKUP_CHARS = 12;

export interface MintedSecret {
  /** Shown to its holder once. */
  secret: string;
  lookup: string;
  digest: Buffer;
}

export function mintSecret(prefix: SecretPrefix): MintedSecret {
  const secret = prefix + randomBytes(32).toString('base64url');
  return { secret, lookup: lookupOf(secret, prefix)!, digest: sha256(secret) };
}

/** The lookup part of a well-formed secret, or null when it cannot be one of ours. */
export function lookupOf(secret: string, prefix: SecretPrefix): string | null {
  if (secret.length !== prefix.length + BODY_CHARS || !secret.startsWith(prefix)) return null;
  const body = secret.slice(prefix.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return null;
  return prefix + body.slice(0, LOOKUP_CHARS);
}

export function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison of a presented secret with a stored digest. */
export function secretMatches(secret: string, digest: Uint8Array): boolean {
  const presented = sha256(secret);
  return presented.length === digest.length && timingSafeEqual(presented, digest);
}

/** Stands in for the digest of an unknown lookup, so both paths cost one comparison. */
const NO_DIGEST = Buffer.alloc(32);

/**
 * The row a presented bearer secret names, found by its lookup and checked
 * against the stored digest in constant time (also when the lookup is
 * unknown). Null when the secret is absent, malformed, unknown or wrong.
 */
export async function findBySecret<Row extends { digest: Uint8Array }>(
  secret: string | null | undefined,
  prefix: SecretPrefix,
  find: (lookup: string) => Promise<Row | undefined>,
): Promise<Row | null> {
  const lookup = secret ? lookupOf(secret, prefix) : null;
  if (!secret || !lookup) return null;
  const row = await find(lookup);
  const matches = secretMatches(secret, row?.digest ?? NO_DIGEST);
  return row && matches ? row : null;
}

export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
