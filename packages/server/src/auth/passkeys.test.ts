import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../http/auth.js';
import { signInWithCode, signUp, startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { SoftwareAuthenticator } from '../test-support/software-authenticator.js';

type Options = { challenge_id: string; options: { challenge: string; user: { id: string } } };

describe(`passkeys (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  it('registers a passkey, then signs in with it alone and uses it as the second factor', async () => {
    const email = 'passkey@example.test';
    const browser = await signUp(h, email, 'Passkey Co');
    const authenticator = new SoftwareAuthenticator(h.config.baseUrl);

    const options = await browser.request<Options>('POST', '/api/v1/me/passkeys/options', {});
    const registered = await browser.request('POST', '/api/v1/me/passkeys', {
      challenge_id: options.body.challenge_id,
      name: 'Laptop',
      response: authenticator.register(options.body.options),
    });
    expect(registered.status).toBe(201);
    // The same challenge cannot register twice.
    const replay = await browser.request('POST', '/api/v1/me/passkeys', {
      challenge_id: options.body.challenge_id,
      name: 'Again',
      response: authenticator.register(options.body.options),
    });
    expect(replay.status).toBe(400);
    const me = await browser.request<{
      user: { mfa: { passkeys: number; enabled_at: string | null } };
    }>('GET', '/api/v1/me');
    expect(me.body.user.mfa.passkeys).toBe(1);
    expect(me.body.user.mfa.enabled_at).not.toBeNull();

    // Passwordless: a fresh browser, nothing but the passkey.
    const fresh = h.browser();
    const signInOptions = await fresh.request<Options>(
      'POST',
      '/api/v1/sign_in/passkey/options',
      {},
    );
    const signedIn = await fresh.request('POST', '/api/v1/sign_in/passkey', {
      challenge_id: signInOptions.body.challenge_id,
      response: authenticator.authenticate(signInOptions.body.options),
    });
    expect(signedIn.body).toEqual({ status: 'signed_in' });
    expect(fresh.cookieNames()).toEqual([SESSION_COOKIE]);
    expect((await fresh.request('GET', '/api/v1/accounts/passkey-co')).status).toBe(200);
    // A used challenge does not sign in again.
    const again = await h.browser().request('POST', '/api/v1/sign_in/passkey', {
      challenge_id: signInOptions.body.challenge_id,
      response: authenticator.authenticate(signInOptions.body.options),
    });
    expect(again.status).toBe(401);

    // As the second factor after an emailed code.
    const pending = await signInWithCode(h, email);
    expect((await pending.request('GET', '/api/v1/accounts/passkey-co')).status).toBe(401);
    const mfaOptions = await pending.request<Options>(
      'POST',
      '/api/v1/sign_in/passkey/options',
      {},
    );
    const completed = await pending.request('POST', '/api/v1/sign_in/passkey', {
      challenge_id: mfaOptions.body.challenge_id,
      response: authenticator.authenticate(mfaOptions.body.options),
    });
    expect(completed.body).toEqual({ status: 'signed_in' });
    expect(pending.cookieNames()).toEqual([SESSION_COOKIE]);
    expect((await pending.request('GET', '/api/v1/accounts/passkey-co')).status).toBe(200);

    // Another key pair claiming the same credential id is refused.
    const impostor = new SoftwareAuthenticator(h.config.baseUrl);
    (impostor as { credentialId: Buffer }).credentialId.set(authenticator.credentialId);
    const impostorOptions = await h
      .browser()
      .request<Options>('POST', '/api/v1/sign_in/passkey/options', {});
    const refused = await h.browser().request('POST', '/api/v1/sign_in/passkey', {
      challenge_id: impostorOptions.body.challenge_id,
      response: impostor.authenticate(impostorOptions.body.options),
    });
    expect(refused.status).toBe(401);
  });
});
