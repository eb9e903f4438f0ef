import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { testConfig } from '../test-support/config.js';
import { onPostgres, openTestStorage } from '../test-support/database.js';
import { hashPassword } from './sign-in.js';

describe(`one sign-in budget per client and per address (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: Storage;
  let app: Awaited<ReturnType<typeof createApp>>;
  const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
  const config = testConfig();

  beforeAll(async () => {
    storage = await openTestStorage();
    app = await createApp({ config, storage, clock });
    const { owner } = await seedWorkspace(storage.db, { email: 'known@budget.test', clock });
    await storage.db
      .updateTable('users')
      .set({ password_hash: await hashPassword('the right password') })
      .where('id', '=', owner.id)
      .execute();
  });
  afterAll(async () => {
    await app.close();
    await storage.close();
  });

  const post = (url: string, payload: object, from: string) =>
    app.inject({
      method: 'POST',
      url,
      payload,
      headers: { origin: config.baseUrl },
      remoteAddress: from,
    });

  /** Every sign-in route, each with a request it refuses or accepts without signing in. */
  const routes: [string, (n: number) => object][] = [
    ['/api/v1/sign_in/password', (n) => ({ email: `p${n}@budget.test`, password: 'nope' })],
    ['/api/v1/sign_in/code/request', (n) => ({ email: `c${n}@budget.test` })],
    ['/api/v1/sign_in/code', () => ({ code: '222222' })],
    ['/api/v1/password/forgot', (n) => ({ email: `f${n}@budget.test` })],
    ['/api/v1/sign_up', (n) => ({ email: `s${n}@budget.test`, workspace_name: 'Budget' })],
    ['/api/v1/password/reset', () => ({ token: 'empr-nope', password: 'long enough password' })],
    ['/api/v1/email/confirm', () => ({ token: 'emcf-nope' })],
    ['/api/v1/invitations/accept', () => ({ token: 'eminv-nope' })],
    ['/api/v1/sign_in/passkey/options', () => ({})],
    ['/api/v1/sign_in/passkey', () => ({ challenge_id: 'nope', response: { id: 'nope' } })],
    ['/api/v1/sign_in/mfa', () => ({ code: '000000' })],
    ['/api/v1/sign_in/bootstrap', () => ({ token: 'embs-nope' })],
  ];

  it('counts every sign-in route against one budget of 30 a minute per client address', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 30; n++) {
      const [url, body] = routes[n % routes.length]!;
      statuses.push((await post(url, body(n), '192.0.2.10')).statusCode);
    }
    expect(statuses).not.toContain(429);
    for (const [url, body] of routes) {
      const refused = await post(url, body(99), '192.0.2.10');
      expect(refused.statusCode, url).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(refused.json()).toMatchObject({ error: { id: 'rate_limited' } });
    }
    // Another client is not affected; a minute later this one is back.
    expect((await post(...password('other@budget.test'), '192.0.2.11')).statusCode).toBe(401);
    clock.advance(60_000);
    expect((await post(...password('again@budget.test'), '192.0.2.10')).statusCode).toBe(401);
  });

  it('counts an IPv6 client by its /64 network', async () => {
    for (let n = 0; n < 30; n++) {
      const from = `2001:db8:1:2::${(n + 1).toString(16)}`;
      expect((await post(...password(`v6-${n}@budget.test`), from)).statusCode).toBe(401);
    }
    const neighbour = await post(...password('v6-x@budget.test'), '2001:db8:1:2:ffff::1');
    expect(neighbour.statusCode).toBe(429);
    const elsewhere = await post(...password('v6-y@budget.test'), '2001:db8:1:3::1');
    expect(elsewhere.statusCode).toBe(401);
  });

  it('spends one budget per address across password tries, codes, resets and sign-ups', async () => {
    for (const email of ['known@budget.test', 'unknown@budget.test']) {
      clock.advance(15 * 60_000);
      // A new client address each time: only the address's budget is in play.
      let client = 0;
      const from = () => `198.51.100.${++client}`;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await post(...password(email), from())).statusCode);
      statuses.push((await post('/api/v1/sign_in/code/request', { email }, from())).statusCode);
      statuses.push((await post('/api/v1/password/forgot', { email }, from())).statusCode);
      statuses.push(
        (await post('/api/v1/sign_up', { email, workspace_name: 'Budget' }, from())).statusCode,
      );
      statuses.push((await post('/api/v1/sign_in/code/request', { email }, from())).statusCode);
      statuses.push((await post('/api/v1/password/forgot', { email }, from())).statusCode);
      expect(statuses, email).toEqual([401, 401, 401, 401, 401, 202, 202, 202, 202, 202]);
      const refused = await post(...password(email), from());
      expect(refused.statusCode, email).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
    }
  });

  it('mails one address at most five times in 15 minutes, whatever asked', async () => {
    clock.advance(15 * 60_000);
    const email = 'mailed@budget.test';
    const asks: [string, object][] = [
      ['/api/v1/sign_in/code/request', { email }],
      ['/api/v1/password/forgot', { email }],
      ['/api/v1/sign_up', { email, workspace_name: 'Budget' }],
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [url, body] = asks[i % asks.length]!;
      statuses.push((await post(url, body, `198.51.100.${50 + i}`)).statusCode);
    }
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
    // Password tries still have room in the address's budget.
    expect((await post(...password(email), '198.51.100.60')).statusCode).toBe(401);
  });
});

const password = (email: string): [string, object] => [
  '/api/v1/sign_in/password',
  { email, password: 'not the password' },
];
