import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { trustedRunner } from '../approvals/test-support/fixtures.js';
import { createNotifyBus, type NotifyBus } from '../bus/notify-bus.js';
import { createApiKey } from '../credentials/api-keys.js';
import { signUp, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { countAccountRows } from '../test-support/counts.js';
import { onPostgres } from '../test-support/database.js';
import { DEFAULT_RATE_LIMITS } from './rate-limit-config.js';

type Json = Record<string, unknown>;

describe(`per-credential budgets (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let bus: NotifyBus;
  let accountId: string;
  let ownerMembershipId: string;
  let runner: { id: string };
  /** A second node on the same database. */
  let other: FastifyInstance;
  const slug = 'budget-a';
  const base = `/api/v1/accounts/${slug}`;
  const RUNS = 3;
  const WRITES = 6;

  beforeAll(async () => {
    h = await startTestApp({
      config: {
        rateLimits: { ...DEFAULT_RATE_LIMITS, runsPerMinute: RUNS, writesPerMinute: WRITES },
      },
    });
    bus = createNotifyBus(h.storage);
    owner = await signUp(h, 'owner@budget.test', 'Budget A');
    const membership = await h.storage.db
      .selectFrom('memberships as m')
      .innerJoin('accounts as a', 'a.id', 'm.account_id')
      .select(['a.id as accountId', 'm.id as membershipId'])
      .where('a.slug', '=', slug)
      .executeTakeFirstOrThrow();
    accountId = membership.accountId;
    ownerMembershipId = membership.membershipId;
    runner = await trustedRunner(h.storage.db, { bus, clock: h.clock }, accountId, 'web');
    other = await createApp({ config: h.config, storage: h.storage, clock: h.clock });
  }, 60_000);
  // Every test starts in a fresh minute window, whatever ran before it.
  beforeEach(() => h.clock.advance(60_000));
  afterAll(async () => {
    await other.close();
    await bus.close();
    await h.close();
  });

  const mcpKey = async () => {
    const key = await createApiKey(
      h.storage.db,
      {
        accountId,
        kind: 'mcp',
        membershipId: ownerMembershipId,
        name: `k-${randomUUID()}`,
        createdBy: null,
      },
      h.clock,
    );
    return { id: key.id, secret: key.secret };
  };
  const uptime = () => ({
    runner: runner.id,
    action_id: 'linux.uptime',
    args: {},
    reason: 'checking the load on web',
  });
  const createRun = async (bearer: string, node: 'a' | 'b' = 'a') => {
    const request = {
      method: 'POST' as const,
      url: `${base}/runs`,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      payload: JSON.stringify(uptime()),
    };
    const response = await (node === 'a' ? h.app : other).inject(request);
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.json() as Json,
    };
  };
  const runCount = () => countAccountRows(h.storage.db, 'runs', accountId);
  const expectLimited = (response: { status: number; headers: unknown; body: unknown }) => {
    expect(response.status).toBe(429);
    expect(response.body).toMatchObject({ error: { id: 'rate_limited' } });
    const retryAfter = Number(
      response.headers instanceof Headers
        ? response.headers.get('retry-after')
        : (response.headers as Record<string, string>)['retry-after'],
    );
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  };

  it('limits run creation per API key lineage; other keys and people keep their own budget', async () => {
    const a = await mcpKey();
    const b = await mcpKey();
    for (let i = 0; i < RUNS; i++) expect((await createRun(a.secret)).status).toBe(201);
    const before = await runCount();
    expectLimited(await createRun(a.secret));
    expect(await runCount()).toBe(before);

    expect((await createRun(b.secret)).status).toBe(201);
    const byOwner = await owner.request('POST', `${base}/runs`, uptime());
    expect(byOwner.status).toBe(201);

    // Rotation keeps the lineage, so a fresh secret does not reset the budget.
    const rotated = await owner.request<{ api_key: { secret: string } }>(
      'POST',
      `${base}/api-keys/${a.id}/rotate`,
      {},
    );
    expect(rotated.status).toBe(201);
    expectLimited(await createRun(rotated.body.api_key.secret));

    h.clock.advance(60_000);
    expect((await createRun(rotated.body.api_key.secret)).status).toBe(201);
  });

  it('spends one budget across nodes (it is counted in the database)', async () => {
    const c = await mcpKey();
    expect((await createRun(c.secret, 'a')).status).toBe(201);
    expect((await createRun(c.secret, 'b')).status).toBe(201);
    expect((await createRun(c.secret, 'a')).status).toBe(201);
    expectLimited(await createRun(c.secret, 'b'));
  });

  it('limits every other state-changing request per person; reads and other people are unaffected', async () => {
    h.clock.advance(60_000);
    const outcomes: number[] = [];
    for (let i = 0; i < WRITES + 1; i++) {
      const response = await owner.request('PATCH', '/api/v1/me', { full_name: `Owner ${i}` });
      outcomes.push(response.status);
      if (response.status === 429) expectLimited(response);
    }
    expect(outcomes).toEqual([...Array(WRITES).fill(200), 429]);
    const me = await owner.request<{ user: Json }>('GET', '/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user.full_name).toBe(`Owner ${WRITES - 1}`);
    // Creating runs is its own budget.
    expect((await owner.request('POST', `${base}/runs`, uptime())).status).toBe(201);

    const someoneElse = await signUp(h, 'other@budget.test', 'Budget B');
    expect((await someoneElse.request('PATCH', '/api/v1/me', { full_name: 'Other' })).status).toBe(
      200,
    );
  });
});
