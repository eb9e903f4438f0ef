import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CREDENTIAL_PREFIXES,
  EVENT_ID_PATTERN,
  newRequestId,
  newSecret,
  REQUEST_ID_PATTERN,
  ULID_PATTERN,
} from './ids.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulidTime = (ulid: string) =>
  [...ulid.slice(0, 10)].reduce((time, c) => time * 32 + CROCKFORD.indexOf(c), 0);

// Each test gets a fresh module, so the monotonic state of one test cannot leak into the next.
let ids: typeof import('./ids.js');
beforeEach(async () => {
  vi.resetModules();
  ids = await import('./ids.js');
});

describe('credential prefixes', () => {
  it('are the spec values and none is a prefix of another', () => {
    expect(Object.values(CREDENTIAL_PREFIXES).sort()).toEqual(
      ['emdg-', 'embs-', 'emk-', 'emkey-enroll-', 'emo-', 'emoc-', 'emor-', 'rnrtok-'].sort(),
    );
    for (const a of Object.values(CREDENTIAL_PREFIXES)) {
      for (const b of Object.values(CREDENTIAL_PREFIXES)) {
        if (a !== b) expect(b.startsWith(a)).toBe(false);
      }
    }
  });
});

describe('REQUEST_ID_PATTERN', () => {
  it.each(['a', 'req_AZaz09-_', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(REQUEST_ID_PATTERN.test(id)).toBe(true);
  });

  it.each(['', 'x'.repeat(65), 'req.1', 'req 1', 'req/1', 'réq', 'req_1\n', 'req_1\u0000'])(
    'refuses %j',
    (id) => {
      expect(REQUEST_ID_PATTERN.test(id)).toBe(false);
    },
  );
});

describe('newRequestId', () => {
  it('is req_ + 22 base62 characters and unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newRequestId();
      expect(id).toMatch(/^req_[0-9A-Za-z]{22}$/);
      expect(REQUEST_ID_PATTERN.test(id)).toBe(true);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('newUlid', () => {
  it('encodes the millisecond time in its first 10 characters', () => {
    const now = Date.UTC(2025, 8, 14, 8, 30, 0, 123);
    const ulid = ids.newUlid(now);
    expect(ulid).toMatch(ULID_PATTERN);
    expect(ulidTime(ulid)).toBe(now);
  });

  it('encodes the ends of the 48-bit range', () => {
    expect(ids.newUlid(0).slice(0, 10)).toBe('0000000000');
    expect(ids.newUlid(2 ** 48 - 1).slice(0, 10)).toBe('7ZZZZZZZZZ');
  });

  it('refuses times outside 48 bits', () => {
    expect(() => ids.newUlid(-1)).toThrow(RangeError);
    expect(() => ids.newUlid(2 ** 48)).toThrow(RangeError);
    expect(() => ids.newUlid(1.5)).toThrow(RangeError);
  });

  it('sorts in creation order within one millisecond and when the clock steps back', () => {
    const made = [ids.newUlid(5000)];
    for (let i = 0; i < 500; i++) made.push(ids.newUlid(5000));
    for (let i = 0; i < 10; i++) made.push(ids.newUlid(4000));
    made.push(ids.newUlid(6000));
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    expect(ulidTime(made.at(-1)!)).toBe(6000);
  });

  it('draws fresh randomness in a new millisecond', () => {
    const a = ids.newUlid(1000).slice(10);
    const b = ids.newUlid(1001).slice(10);
    expect(a).not.toBe(b);
  });
});

describe('newEventId', () => {
  it('is evt_ + a ULID for now', () => {
    const before = Date.now();
    const id = ids.newEventId();
    expect(id).toMatch(EVENT_ID_PATTERN);
    expect(ulidTime(id.slice(4))).toBeGreaterThanOrEqual(before);
    expect(ulidTime(id.slice(4))).toBeLessThanOrEqual(Date.now());
  });
});

describe('newSecret', () => {
  it('is the prefix + base64url of 32 random bytes', () => {
    const secret = newSecret(CREDENTIAL_PREFIXES.enrollmentKey);
    expect(secret).toMatch(/^emkey-enroll-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.slice('emkey-enroll-'.length), 'base64url')).toHaveLength(32);
    expect(newSecret('emk-')).not.toBe(newSecret('emk-'));
  });
});
