import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS } from '../http/rate-limit-config.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { countAccountRows } from '../test-support/counts.js';
import { onPostgres } from '../test-support/database.js';
import { accountWithKey, newEnrollmentKey, registration } from './test-support/enrollment.js';

const REGISTER = 3;
const REFRESH = 2;

describe(`runner endpoint budgets per address and per key (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp({
      config: {
        // Requests name their client address through the (trusted) loopback proxy.
        trustProxy: ['127.0.0.1/32'],
        rateLimits: {
          ...DEFAULT_RATE_LIMITS,
          runnerRegisterPerMinute: REGISTER,
          runnerRefreshPerMinute: REFRESH,
        },
      },
    });
  });
  afterAll(() => h.close());

  const post = async (path: string, from: string, bearer: string, body: unknown) => {
    const response = await fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${bearer}`,
        'x-forwarded-for': from,
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  const expectLimited = (response: Awaited<ReturnType<typeof post>>) => {
    expect(response.status).toBe(429);
    expect(response.body).toEqual({ error: 'rate_limited' });
    expect(Number(response.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(response.retryAfter)).toBeLessThanOrEqual(60);
  };
  const runnerCount = (accountId: string) => countAccountRows(h.storage.db, 'runners', accountId);

  it('limits registration per enrollment key, whatever the address', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true, plan: 'enterprise' });
    for (let i = 1; i <= REGISTER; i++) {
      const response = await post(
        '/runner/register',
        `203.0.113.${i}`,
        key,
        registration(`k-${i}`),
      );
      expect(response.status).toBe(201);
    }
    expectLimited(await post('/runner/register', '203.0.113.99', key, registration('k-4')));
    expect(await runnerCount(accountId)).toBe(REGISTER);
    h.clock.advance(60_000);
  });

  it('limits registration per client address, whatever the key; a refused request spends nothing', async () => {
    const { accountId, key: first } = await accountWithKey(h, { plan: 'enterprise' });
    const keys = [first];
    for (let i = 1; i <= REGISTER; i++) keys.push((await newEnrollmentKey(h, accountId)).key);
    for (let i = 0; i < REGISTER; i++) {
      expect(
        (await post('/runner/register', '198.51.100.7', keys[i]!, registration(`ip-${i}`))).status,
      ).toBe(201);
    }
    const last = keys[REGISTER]!;
    expectLimited(await post('/runner/register', '198.51.100.7', last, registration('ip-x')));
    // Another address is unaffected, and the single-use key was not spent by the refusal.
    expect(
      (await post('/runner/register', '198.51.100.8', last, registration('ip-x'))).status,
    ).toBe(201);
    expect(await runnerCount(accountId)).toBe(REGISTER + 1);
    h.clock.advance(60_000);
  });

  it('limits token refresh per token and per address', async () => {
    const { key } = await accountWithKey(h, { reusable: true, plan: 'enterprise' });
    const enrolled = await post('/runner/register', '192.0.2.1', key, registration('refresher'));
    const token = enrolled.body.token as string;
    // Not due yet: each try still spends the budget.
    for (let i = 1; i <= REFRESH; i++) {
      expect(await post('/runner/token/refresh', `192.0.2.${10 + i}`, token, {})).toMatchObject({
        status: 409,
        body: { error: 'not_due' },
      });
    }
    expectLimited(await post('/runner/token/refresh', '192.0.2.50', token, {}));

    const other = await post('/runner/register', '192.0.2.2', key, registration('refresher-2'));
    const otherToken = other.body.token as string;
    const unknown = `rnrtok-${'u'.repeat(43)}`;
    for (let i = 0; i < REFRESH; i++) {
      expect((await post('/runner/token/refresh', '192.0.2.60', unknown, {})).status).toBe(401);
    }
    expectLimited(await post('/runner/token/refresh', '192.0.2.60', otherToken, {}));
    expect((await post('/runner/token/refresh', '192.0.2.61', otherToken, {})).status).toBe(409);

    h.clock.advance(60_000);
    expect((await post('/runner/token/refresh', '192.0.2.50', token, {})).status).toBe(409);
  });
});
