import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM under keys derived (HKDF-SHA256) from EMISAR_SECRET_KEY, one key
 * per purpose, for values that must be recovered: TOTP seeds, queued email
 * bodies. Layout: 12-byte IV ‖ ciphertext ‖ 16-byte tag.
 */
export type KeyPurpose = 'totp' | 'mail-outbox' | 'cookie-signing' | 'run-args' | 'mcp-cursors';

export function deriveKey(secretKey: Buffer, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), `emisar:${purpose}`, 32));
}

export interface SecretBox {
  seal(plaintext: Buffer | string, associatedData?: string): Buffer;
  open(sealed: Uint8Array, associatedData?: string): Buffer;
}

export function createSecretBox(secretKey: Buffer, purpose: KeyPurpose): SecretBox {
  const key = deriveKey(secretKey, purpose);
  return {
    seal(plaintext, associatedData = '') {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]);
    },
    open(sealed, associatedData = '') {
      const bytes = Buffer.from(sealed);
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([
        decipher.update(bytes.subarray(12, bytes.length - 16)),
        decipher.final(),
      ]);
    },
  };
}
