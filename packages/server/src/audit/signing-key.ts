import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** The server's audit signing key as `GET /.well-known/emisar-audit-key` publishes it. */
export interface PublishedAuditKey {
  algorithm: 'Ed25519';
  key_id: string;
  /** SPKI PEM. */
  public_key: string;
}

export const AUDIT_KEY_PATH = '/.well-known/emisar-audit-key';

/** The public half of a key pair, given either half. */
const publicHalf = (key: KeyObject) => (key.type === 'public' ? key : createPublicKey(key));
const spkiDer = (key: KeyObject) => publicHalf(key).export({ format: 'der', type: 'spki' });

/**
 * A short name for a public key: the first 16 hex digits of the SHA-256 of its
 * SPKI DER. It names the key in documents and messages; verification always
 * compares the key itself.
 */
export function auditKeyId(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex').slice(0, 16);
}

export function publishedAuditKey(signingKey: KeyObject): PublishedAuditKey {
  return {
    algorithm: 'Ed25519',
    key_id: auditKeyId(signingKey),
    public_key: publicHalf(signingKey).export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/**
 * The Ed25519 public key in `text`: a PEM, or the JSON document of the
 * well-known URL. Throws a one-line Error when it is neither.
 */
export function parseAuditPublicKey(text: string): KeyObject {
  let pem = text;
  if (text.trimStart().startsWith('{')) {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new Error('is neither a PEM public key nor the JSON of the well-known key URL');
    }
    const value = (document as { public_key?: unknown } | null)?.public_key;
    if (typeof value !== 'string') throw new Error('has no "public_key"');
    pem = value;
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('is not an Ed25519 key');
  return key;
}

/** Whether two keys are the same public key. */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return spkiDer(a).equals(spkiDer(b));
}
