import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../test-support/app.js';

describe('cookies behind an https base URL, and the per-client sign-in limit', () => {
  let h: TestApp;
  const origin = 'https://emisar.example.com';

  beforeAll(async () => {
    h = await startTestApp({
      config: {
        baseUrl: origin,
        secureCookies: true,
        mail: {
          transport: { kind: 'none' },
          from: 'emisar <no-reply@localhost>',
          devMailbox: true,
        },
      },
    });
  });
  afterAll(() => h.close());

  /** A POST from `address` (each test its own, so their rate limits stay apart). */
  const post = (address: string, url: string, payload: object, cookie?: string) =>
    h.app.inject({
      method: 'POST',
      url,
      payload,
      headers: { origin, ...(cookie ? { cookie } : {}) },
      remoteAddress: address,
    });

  it('sets only HttpOnly, SameSite=Lax, Secure cookies; the nonce is scoped to sign-in', async () => {
    const signUp = await post('198.51.100.4', '/api/v1/sign_up', {
      email: 'secure@example.test',
      workspace_name: 'Secure',
    });
    expect(signUp.statusCode).toBe(202);
    const nonce = signUp.headers['set-cookie'] as string;
    expect(nonce).toMatch(/^emisar_sign_in=/);
    expect(nonce).toMatch(/; Max-Age=900/);
    expect(nonce).toMatch(/; Path=\/api\/v1\/sign_in/);
    expect(nonce).toMatch(/; HttpOnly/);
    expect(nonce).toMatch(/; Secure/);
    expect(nonce).toMatch(/; SameSite=Lax/);

    await h.app.mailOutbox.deliverDue();
    const [mail] = await h.app.mailOutbox.held(1);
    const code = /sign-in code is ([2-9A-Z]{6})/.exec(mail!.text)![1]!;
    expect(mail!.text).toContain(`${origin}/sign_in/code#${code}`);
    const signedIn = await post(
      '198.51.100.4',
      '/api/v1/sign_in/code',
      { code },
      nonce.split(';')[0],
    );
    expect(signedIn.statusCode).toBe(200);
    const cookies = ([] as string[]).concat(signedIn.headers['set-cookie'] as string | string[]);
    const session = cookies.find((c) => c.startsWith('emisar_session='))!;
    expect(session).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax/);
    expect(cookies.find((c) => c.startsWith('emisar_sign_in='))).toMatch(/emisar_sign_in=;/);
  });

  it('answers 429 past 30 sign-in attempts a minute from one address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      const response = await post('198.51.100.5', '/api/v1/sign_in/password', {
        email: `x${i}@example.test`,
        password: 'nope',
      });
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
  });
});
