import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../http/auth.js';
import { personAudit } from '../members/person-audit.js';
import { signInWithCode, signUp, startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom, signInCodeFrom } from '../test-support/smtp-sink.js';
import { CODE_ALPHABET } from './codes.js';
import { auditSignInFailures } from './sign-in-failures.js';
import { totpCodeAt } from './totp.js';

/** A code from the alphabet that differs from `code` (so it is wrong, not malformed). */
const wrongCode = (code: string) =>
  code.slice(0, 5) + (code[5] === CODE_ALPHABET[0] ? CODE_ALPHABET[1] : CODE_ALPHABET[0]);

describe(`sign-in abuse (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());
  // Every test starts with a fresh per-client sign-in window, whatever ran before it.
  beforeEach(() => h.clock.advance(60_000));

  async function requestCode(email: string) {
    const browser = h.browser();
    await browser.request('POST', '/api/v1/sign_in/code/request', { email });
    const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
    return { browser, code };
  }

  it('locks a code after five wrong tries, even for the right code', async () => {
    await signUp(h, 'lock@example.test', 'Lock Co');
    const { browser, code } = await requestCode('lock@example.test');
    for (let i = 0; i < 5; i++) {
      const wrong = await browser.request('POST', '/api/v1/sign_in/code', {
        code: wrongCode(code),
      });
      expect(wrong.status).toBe(401);
    }
    const right = await browser.request('POST', '/api/v1/sign_in/code', { code });
    expect(right.status).toBe(401);
    expect(browser.cookieNames()).not.toContain(SESSION_COOKIE);
    await auditSignInFailures(h.storage.db, personAudit);
    const failures = await h.storage.db
      .selectFrom('audit_events')
      .select('payload')
      .where('event_type', '=', 'user.sign_in_failed')
      .execute();
    expect(failures.length).toBeGreaterThanOrEqual(6);
  });

  it('refuses the emailed code without the browser nonce (another browser)', async () => {
    await signUp(h, 'nonce@example.test', 'Nonce Co');
    const { code } = await requestCode('nonce@example.test');
    const elsewhere = h.browser();
    const attempt = await elsewhere.request('POST', '/api/v1/sign_in/code', { code });
    expect(attempt.status).toBe(401);
    expect(elsewhere.cookieNames()).toEqual([]);
  });

  it('refuses an expired code and a used one; only the latest code is outstanding', async () => {
    await signUp(h, 'expiry@example.test', 'Expiry Co');
    const old = await requestCode('expiry@example.test');
    h.clock.advance(15 * 60_000 + 1);
    expect(
      (await old.browser.request('POST', '/api/v1/sign_in/code', { code: old.code })).status,
    ).toBe(401);

    const first = await requestCode('expiry@example.test');
    const second = await requestCode('expiry@example.test');
    expect(
      (await first.browser.request('POST', '/api/v1/sign_in/code', { code: first.code })).status,
    ).toBe(401);
    expect(
      (await second.browser.request('POST', '/api/v1/sign_in/code', { code: second.code })).status,
    ).toBe(200);
    await second.browser.request('POST', '/api/v1/sign_out', {});
    const reused = await second.browser.request('POST', '/api/v1/sign_in/code', {
      code: second.code,
    });
    expect(reused.status).toBe(401);
  });

  it('refuses secrets in a query string without acting on them', async () => {
    await signUp(h, 'query@example.test', 'Query Co');
    const { browser, code } = await requestCode('query@example.test');
    const inQuery = await browser.request('POST', `/api/v1/sign_in/code?code=${code}`, { code });
    expect(inQuery.status).toBe(400);
    expect((inQuery.body as { error: { id: string } }).error.id).toBe('secret_in_url');
    const page = await browser.request('GET', `/sign_in/code?code=${code}`);
    expect(page.status).toBe(400);
    const token = await browser.request('POST', '/api/v1/email/confirm?token=emcf-abc', {
      token: 'x',
    });
    expect(token.status).toBe(400);
    // The refused request did not use the code up.
    expect((await browser.request('POST', '/api/v1/sign_in/code', { code })).status).toBe(200);
  });

  it('rejects a tampered session cookie', async () => {
    const browser = await signUp(h, 'tamper@example.test', 'Tamper Co');
    expect((await browser.request('GET', '/api/v1/me')).status).toBe(200);
    const cookie = browser.jar.get(SESSION_COOKIE)!;
    const flipped = cookie.value[4] === 'A' ? 'B' : 'A';
    cookie.value = cookie.value.slice(0, 4) + flipped + cookie.value.slice(5);
    expect((await browser.request('GET', '/api/v1/me')).status).toBe(401);
  });

  it('refuses state changes without our Origin or the CSRF header', async () => {
    const browser = await signUp(h, 'csrf@example.test', 'Csrf Co');
    browser.origin = 'https://evil.example';
    const foreign = await browser.request('POST', '/api/v1/me/sessions/revoke_others', {});
    expect(foreign.status).toBe(403);
    expect((foreign.body as { error: { id: string } }).error.id).toBe('csrf');
    browser.origin = null;
    const none = await browser.request('POST', '/api/v1/me/sessions/revoke_others', {});
    expect(none.status).toBe(403);
    const header = await browser.request(
      'POST',
      '/api/v1/me/sessions/revoke_others',
      {},
      { 'x-emisar-csrf': '1' },
    );
    expect(header.status).toBe(200);
  });

  it('refuses a replayed TOTP code and a reused recovery code', async () => {
    const email = 'mfa@example.test';
    const browser = await signUp(h, email, 'Mfa Co');
    const enrol = await browser.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    const { body } = await browser.request<{ recovery_codes: string[] }>(
      'POST',
      '/api/v1/me/mfa/totp/confirm',
      {
        code: totpCodeAt(enrol.body.secret, h.clock.now()),
      },
    );
    const [recovery] = body.recovery_codes;

    const first = await signInWithCode(h, email);
    h.clock.advance(30_000);
    const code = totpCodeAt(enrol.body.secret, h.clock.now());
    expect((await first.request('POST', '/api/v1/sign_in/mfa', { code })).status).toBe(200);

    const second = await signInWithCode(h, email);
    expect((await second.request('POST', '/api/v1/sign_in/mfa', { code })).status).toBe(401);
    expect(
      (await second.request('POST', '/api/v1/sign_in/mfa', { recovery_code: recovery })).status,
    ).toBe(200);

    const third = await signInWithCode(h, email);
    expect(
      (await third.request('POST', '/api/v1/sign_in/mfa', { recovery_code: recovery })).status,
    ).toBe(401);
    expect((await third.request('GET', '/api/v1/accounts/mfa-co')).status).toBe(401);
  });

  it('limits MFA attempts per user durably and fails closed', async () => {
    const email = 'mfa-limit@example.test';
    const browser = await signUp(h, email, 'Mfa Limit Co');
    const enrol = await browser.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    await browser.request('POST', '/api/v1/me/mfa/totp/confirm', {
      code: totpCodeAt(enrol.body.secret, h.clock.now()),
    });
    h.clock.advance(5 * 60_000);
    const pending = await signInWithCode(h, email);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await pending.request('POST', '/api/v1/sign_in/mfa', { code: '000000' })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const right = totpCodeAt(enrol.body.secret, h.clock.now());
    expect((await pending.request('POST', '/api/v1/sign_in/mfa', { code: right })).status).toBe(
      429,
    );
    h.clock.advance(5 * 60_000);
    expect(
      (
        await pending.request('POST', '/api/v1/sign_in/mfa', {
          code: totpCodeAt(enrol.body.secret, h.clock.now()),
        })
      ).status,
    ).toBe(200);
  });

  it('password: set, sign in, reset by email once, which signs out every session', async () => {
    const email = 'pw@example.test';
    const browser = await signUp(h, email, 'Pw Co');
    const short = await browser.request('POST', '/api/v1/me/password', { password: 'short' });
    expect(short.status).toBe(400);
    expect(
      (await browser.request('POST', '/api/v1/me/password', { password: 'correct horse battery' }))
        .status,
    ).toBe(200);

    const other = h.browser();
    const wrong = await other.request('POST', '/api/v1/sign_in/password', {
      email,
      password: 'wrong horse battery',
    });
    expect(wrong.status).toBe(401);
    const ok = await other.request('POST', '/api/v1/sign_in/password', {
      email,
      password: 'correct horse battery',
    });
    expect(ok.body).toEqual({ status: 'signed_in' });
    expect(other.cookieNames()).toEqual([SESSION_COOKIE]);
    const unknown = await h.browser().request('POST', '/api/v1/sign_in/password', {
      email: 'nobody@example.test',
      password: 'whatever whatever',
    });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ error: wrong.body.error });

    await h.browser().request('POST', '/api/v1/password/forgot', { email });
    const mail = await h.smtp.next(email);
    const token = fragmentSecretFrom(mail.text ?? '', '/reset_password');
    expect(token).toMatch(/^empr-/);
    const reset = await h
      .browser()
      .request('POST', '/api/v1/password/reset', { token, password: 'a whole new password' });
    expect(reset.status).toBe(200);
    const reused = await h
      .browser()
      .request('POST', '/api/v1/password/reset', { token, password: 'yet another password' });
    expect(reused.status).toBe(401);
    expect((await browser.request('GET', '/api/v1/me')).status).toBe(401);
    expect((await other.request('GET', '/api/v1/me')).status).toBe(401);
    const after = await h
      .browser()
      .request('POST', '/api/v1/sign_in/password', { email, password: 'a whole new password' });
    expect(after.status).toBe(200);

    h.clock.advance(1000);
    await h.browser().request('POST', '/api/v1/password/forgot', { email });
    const late = fragmentSecretFrom((await h.smtp.next(email)).text ?? '', '/reset_password');
    h.clock.advance(30 * 60_000 + 1);
    expect(
      (
        await h
          .browser()
          .request('POST', '/api/v1/password/reset', { token: late, password: 'too late password' })
      ).status,
    ).toBe(401);
  });

  it('refuses malformed input with a bounded 400 and changes nothing', async () => {
    const browser = h.browser();
    const cases: unknown[] = [
      {},
      { email: 'not-an-email', workspace_name: 'x' },
      { email: 'a@example.test', workspace_name: '' },
      { email: 'a@example.test', workspace_name: 'x'.repeat(81) },
      { email: `${'a'.repeat(300)}@example.test`, workspace_name: 'x' },
      { email: ['a@example.test'], workspace_name: 'x' },
    ];
    for (const body of cases) {
      const response = await browser.request('POST', '/api/v1/sign_up', body);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: { id: 'invalid_params' } });
    }
    const raw = await fetch(`${h.url}/api/v1/sign_up`, {
      method: 'POST',
      headers: { origin: h.config.baseUrl, 'content-type': 'application/json' },
      body: '{"email": ',
    });
    expect(raw.status).toBe(400);
    const users = await h.storage.db
      .selectFrom('users')
      .select('email')
      .where('email', '=', 'a@example.test')
      .execute();
    expect(users).toEqual([]);
  });
});

describe('the dev mailbox', () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp({
      config: {
        mail: {
          transport: { kind: 'none' },
          from: 'emisar <no-reply@localhost>',
          devMailbox: true,
        },
      },
    });
  });
  afterAll(() => h.close());

  it('shows held mail to loopback clients only and logs just a pointer', async () => {
    const browser = h.browser();
    await browser.request('POST', '/api/v1/sign_up', {
      email: 'dev@example.test',
      workspace_name: 'Dev',
    });
    await expect
      .poll(async () => (await browser.request<string>('GET', '/dev/mailbox')).body, {
        timeout: 10_000,
      })
      .toMatch(/Your sign-in code is [2-9A-Z]{6}/);
    const page = await browser.request<string>('GET', '/dev/mailbox');
    const code = /sign-in code is ([2-9A-Z]{6})/.exec(page.body)![1]!;
    expect((await browser.request('POST', '/api/v1/sign_in/code', { code })).status).toBe(200);

    const remote = await h.app.inject({
      method: 'GET',
      url: '/dev/mailbox',
      remoteAddress: '192.0.2.7',
    });
    expect(remote.statusCode).toBe(404);
    const ipv6 = await h.app.inject({
      method: 'GET',
      url: '/dev/mailbox',
      remoteAddress: '2001:db8::1',
    });
    expect(ipv6.statusCode).toBe(404);
  });
});
