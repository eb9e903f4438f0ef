import { randomBytes } from 'node:crypto';

/** Every credential we mint starts with one of these (redaction and routing rely on them). */
export const CREDENTIAL_PREFIXES = {
  apiKey: 'emk-',
  runnerToken: 'rnrtok-',
  oauthAccessToken: 'emo-',
  oauthRefreshToken: 'emor-',
  oauthCode: 'emoc-',
  enrollmentKey: 'emkey-enroll-',
  deviceCode: 'emdg-',
  bootstrapSignIn: 'embs-',
} as const;

export type CredentialKind = keyof typeof CREDENTIAL_PREFIXES;
export type CredentialPrefix = (typeof CREDENTIAL_PREFIXES)[CredentialKind];

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
export const EVENT_ID_PATTERN = /^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `req_` + 22 uniformly random base62 characters (~131 bits). */
export function newRequestId(): string {
  let id = 'req_';
  while (id.length < 26) {
    for (const byte of randomBytes(32)) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && id.length < 26) id += BASE62[byte % 62];
    }
  }
  return id;
}

let lastTime = -1;
let lastRandom = new Uint8Array(10);

/**
 * A ULID: 48-bit millisecond time + 80 random bits, Crockford base32. Within one
 * millisecond (or if the clock steps back) the previous random part is
 * incremented, so ids from this process sort in creation order.
 */
export function newUlid(now: number = Date.now()): string {
  if (!Number.isSafeInteger(now) || now < 0 || now >= 2 ** 48) {
    throw new RangeError('ULID time must be a 48-bit millisecond timestamp');
  }
  if (now > lastTime) {
    lastTime = now;
    lastRandom = new Uint8Array(randomBytes(10));
  } else if (!increment(lastRandom)) {
    // 2^80 ids in one millisecond cannot happen; borrowing the next millisecond keeps order anyway.
    lastTime += 1;
    lastRandom = new Uint8Array(randomBytes(10));
  }
  return encodeTime(lastTime) + encodeRandom(lastRandom);
}

/** `evt_` + ULID. */
export function newEventId(): string {
  return `evt_${newUlid()}`;
}

/** prefix + base64url of 32 random bytes. */
export function newSecret(prefix: CredentialPrefix): string {
  return prefix + randomBytes(32).toString('base64url');
}

function increment(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] !== 0xff) {
      bytes[i]! += 1;
      return true;
    }
    bytes[i] = 0;
  }
  return false;
}

function encodeTime(time: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[time % 32] + out;
    time = Math.floor(time / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out = CROCKFORD[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}
