import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../http/auth.js';
import { personAudit } from '../members/person-audit.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { signInCodeFrom } from '../test-support/smtp-sink.js';
import { auditSignInFailures } from './sign-in-failures.js';
import { totpCodeAt } from './totp.js';

describe(`sign-up to MFA sign-in over real HTTP and SMTP (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  it('signs up, enrols TOTP, signs out and back in with code + TOTP', async () => {
    const email = 'ada@example.test';
    const browser = h.browser();

    const signUp = await browser.request('POST', '/api/v1/sign_up', {
      email: 'Ada@Example.test',
      full_name: 'Ada Lovelace',
      workspace_name: 'Analytical Engines',
    });
    expect(signUp.status).toBe(202);
    expect(browser.cookieNames()).toEqual(['emisar_sign_in']);

    const first = await h.smtp.next(email);
    expect(first.subject).toMatch(/sign-in code/);
    const code = signInCodeFrom(first.text ?? '', h.config.baseUrl);

    const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
    expect(signedIn.body).toEqual({ status: 'signed_in' });
    expect(browser.cookieNames()).toEqual([SESSION_COOKIE]);

    const me = await browser.request<{
      user: { email: string; confirmed: boolean; full_name: string };
      accounts: { slug: string; role: string }[];
    }>('GET', '/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ email, confirmed: true, full_name: 'Ada Lovelace' });
    expect(me.body.accounts).toEqual([
      expect.objectContaining({ slug: 'analytical-engines', role: 'owner' }),
    ]);

    const enrol = await browser.request<{ secret: string; otpauth_uri: string }>(
      'POST',
      '/api/v1/me/mfa/totp',
      {},
    );
    expect(enrol.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\//);
    const enrolCode = totpCodeAt(enrol.body.secret, h.clock.now());
    const confirmed = await browser.request<{ recovery_codes: string[] }>(
      'POST',
      '/api/v1/me/mfa/totp/confirm',
      { code: enrolCode },
    );
    expect(confirmed.status).toBe(200);
    expect(new Set(confirmed.body.recovery_codes).size).toBe(10);

    expect((await browser.request('POST', '/api/v1/sign_out', {})).status).toBe(200);
    expect(browser.cookieNames()).toEqual([]);
    expect((await browser.request('GET', '/api/v1/me')).status).toBe(401);

    await browser.request('POST', '/api/v1/sign_in/code/request', { email });
    const second = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
    const primary = await browser.request('POST', '/api/v1/sign_in/code', { code: second });
    expect(primary.body).toEqual({ status: 'mfa_required' });
    expect(browser.cookieNames()).toEqual([SESSION_COOKIE]);
    const blocked = await browser.request('GET', '/api/v1/accounts/analytical-engines');
    expect(blocked.status).toBe(401);

    // The enrolment code's step was used: replaying it (same 30 s step) is refused.
    const replay = await browser.request('POST', '/api/v1/sign_in/mfa', { code: enrolCode });
    expect(replay.status).toBe(401);

    h.clock.advance(30_000);
    const fresh = totpCodeAt(enrol.body.secret, h.clock.now());
    const mfa = await browser.request('POST', '/api/v1/sign_in/mfa', { code: fresh });
    expect(mfa.body).toEqual({ status: 'signed_in' });
    expect(browser.cookieNames()).toEqual([SESSION_COOKIE]);

    const again = await browser.request('POST', '/api/v1/sign_in/mfa', { code: fresh });
    expect(again.status).toBe(401);

    const account = await browser.request<{ membership: { role: string } }>(
      'GET',
      '/api/v1/accounts/analytical-engines',
    );
    expect(account.status).toBe(200);
    expect(account.body.membership.role).toBe('owner');

    await auditSignInFailures(h.storage.db, personAudit);
    const events = await h.storage.db
      .selectFrom('audit_events')
      .select('event_type')
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.event_type)).toEqual(
      expect.arrayContaining([
        'account.created',
        'user.signed_up',
        'user.signed_in',
        'user.mfa_enabled',
        'user.sign_in_failed',
      ]),
    );
  });
});
