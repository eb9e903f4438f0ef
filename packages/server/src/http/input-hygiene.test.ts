import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedRunner } from '../approvals/test-support/fixtures.js';
import { createNotifyBus, type NotifyBus } from '../bus/notify-bus.js';
import { createEnrollmentKey } from '../credentials/enrollment-keys.js';
import { signUp, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { countAccountRows } from '../test-support/counts.js';
import { onPostgres } from '../test-support/database.js';
import { signInCodeFrom } from '../test-support/smtp-sink.js';
import { accountRoutesOf } from './account-routes.js';

type Json = Record<string, unknown>;

// PostgreSQL refuses U+0000 in text; each of these once reached it and answered 500.
describe(`forbidden code points are refused at the input layer (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let bus: NotifyBus;
  let accountId: string;
  let runner: { id: string };
  const slug = 'hygiene-a';
  const base = `/api/v1/accounts/${slug}`;
  const reason = 'checking why the web tier is slow';

  beforeAll(async () => {
    h = await startTestApp();
    bus = createNotifyBus(h.storage);
    owner = await signUp(h, 'owner@hygiene.test', 'Hygiene A');
    accountId = (
      await h.storage.db
        .selectFrom('accounts')
        .select('id')
        .where('slug', '=', slug)
        .executeTakeFirstOrThrow()
    ).id;
    runner = await trustedRunner(h.storage.db, { bus, clock: h.clock }, accountId, 'web');
  }, 60_000);
  afterAll(async () => {
    await bus.close();
    await h.close();
  });

  const count = (table: 'runs' | 'api_keys') => countAccountRows(h.storage.db, table, accountId);
  const expectRefused = (response: { status: number; body: unknown }, field: RegExp) => {
    expect(response.status).toBe(400);
    const error = (response.body as { error: { id: string; message: string } }).error;
    expect(error.id).toBe('invalid_input');
    expect(error.message).toMatch(field);
    expect(error.message).toContain('U+');
  };
  const uptime = (over: Json = {}) => ({
    runner: runner.id,
    action_id: 'linux.uptime',
    args: {},
    reason,
    ...over,
  });

  it('refuses NUL in a run’s reason, evidence, runner, action id and argument names, creating nothing', async () => {
    const before = await count('runs');
    for (const [over, field] of [
      [{ reason: `${reason}\u0000` }, /body field reason\b/],
      [{ evidence: 'saw \u0000 in the log' }, /body field evidence\b/],
      [{ expected: '\u0000' }, /body field expected\b/],
      [{ runner: `${runner.id}\u0000` }, /body field runner\b/],
      [{ action_id: 'linux.uptime\u0000' }, /body field action_id\b/],
      [{ args: { 'lines\u0000': 1 } }, /body field args\b/],
      [{ args: { lines: ['\u0000'] } }, /body field args\.lines\[0\]/],
      [{ pack_ref: '\u0000' }, /body field pack_ref\b/],
    ] as const) {
      expectRefused(await owner.request('POST', `${base}/runs`, uptime(over)), field);
    }
    expect(await count('runs')).toBe(before);
  });

  it('refuses other controls, lone surrogates and noncharacters; free text keeps tabs and line breaks', async () => {
    for (const bad of ['\u001b[2J', '\u007f', '\u009b', '\ufffe', '\u{10ffff}']) {
      expectRefused(
        await owner.request('POST', `${base}/runs`, uptime({ evidence: `x${bad}` })),
        /evidence/,
      );
    }
    // JSON.stringify writes a lone surrogate as an escape; the parser would accept it.
    const lone = await fetch(`${h.url}${base}/runs`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: h.config.baseUrl,
        cookie: cookieOf(owner),
      },
      body: `{"runner":"${runner.id}","action_id":"linux.uptime","args":{},"reason":"${reason}","evidence":"\\ud800"}`,
    });
    expectRefused({ status: lone.status, body: await lone.json() }, /evidence/);
    const multiline = await owner.request(
      'POST',
      `${base}/runs`,
      uptime({ reason: `${reason}\n\tfrom the alert\r\n`, evidence: 'line 1\nline 2' }),
    );
    expect(multiline.status).toBe(201);
  });

  it('refuses NUL in a query parameter and in the path slug', async () => {
    expectRefused(
      await owner.request('GET', `${base}/runs?action_id=a%00b`),
      /query parameter action_id/,
    );
    expectRefused(await owner.request('GET', `${base}/runs?status=%01`), /query parameter status/);
    expectRefused(
      await owner.request('GET', '/api/v1/accounts/hygiene%00a/runs'),
      /path parameter slug/,
    );
    expectRefused(await owner.request('GET', '/api/v1/accounts/hygiene%00a'), /slug/);
    expectRefused(
      await owner.request('GET', `${base}/audit?event_type=%00`),
      /query parameter event_type/,
    );
  });

  it('refuses NUL in a profile name and an API key name, changing nothing', async () => {
    expectRefused(
      await owner.request('PATCH', '/api/v1/me', { full_name: 'Own\u0000er' }),
      /body field full_name/,
    );
    expect((await owner.request<{ user: Json }>('GET', '/api/v1/me')).body.user.full_name).not.toBe(
      'Own\u0000er',
    );
    const keys = await count('api_keys');
    expectRefused(
      await owner.request('POST', `${base}/api-keys`, { name: 'key\u0000' }),
      /body field name/,
    );
    expect(await count('api_keys')).toBe(keys);
  });

  it('refuses NUL in every path parameter of every account-scoped route, and in any query parameter', async () => {
    const outcomes: string[] = [];
    for (const route of accountRoutesOf(h.app)) {
      const params = ['slug', ...[...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)];
      for (const param of params) {
        const path = `/api/v1/accounts/${param === 'slug' ? 'a%00b' : slug}${route.path.replace(
          /:(\w+)/g,
          (_, name) => (name === param ? 'a%00b' : '00000000-0000-4000-8000-000000000000'),
        )}`;
        const response = await owner.request(route.method as string, path);
        outcomes.push(
          `${route.method} ${route.path} :${param} → ${response.status} ${errorId(response.body)}`,
        );
      }
      const query = await owner.request(
        route.method as string,
        `${base}${route.path.replace(/:(\w+)/g, '00000000-0000-4000-8000-000000000000')}?x=%00`,
      );
      outcomes.push(`${route.method} ${route.path} ?x → ${query.status} ${errorId(query.body)}`);
    }
    for (const path of ['/api/v1/me/sessions/a%00b', '/api/v1/me/passkeys/a%00b']) {
      const response = await owner.request('DELETE', path);
      outcomes.push(`DELETE ${path} → ${response.status} ${errorId(response.body)}`);
    }
    expect(outcomes.filter((line) => !line.endsWith('→ 400 invalid_input'))).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(60);
  }, 120_000);

  it('keeps an odd user agent (a header reaching the database) with the forbidden characters replaced', async () => {
    // Node's HTTP parser refuses control bytes in headers; an in-process request does not.
    const email = 'agent@hygiene.test';
    const headers = { origin: h.config.baseUrl, 'user-agent': 'curl\u0000/8\u0085' };
    const response = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sign_up',
      headers,
      payload: { email, workspace_name: 'Odd Agent' },
    });
    expect(response.statusCode).toBe(202);
    // The workspace (and its audit events) comes with the emailed code.
    const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
    const nonce = String(response.headers['set-cookie']).split(';')[0]!;
    const signedIn = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sign_in/code',
      headers: { ...headers, cookie: nonce },
      payload: { code },
    });
    expect(signedIn.statusCode).toBe(200);
    const stored = await h.storage.db
      .selectFrom('audit_events')
      .select('user_agent')
      .where('user_agent', 'like', 'curl%')
      .execute();
    expect(stored.map((row) => row.user_agent)).toContain('curl\ufffd/8\ufffd');
  });

  it('refuses NUL in a runner’s registration in the runner endpoints’ flat shape, spending nothing', async () => {
    const key = await createEnrollmentKey(
      h.storage.db,
      {
        accountId,
        name: 'hygiene',
        reusable: false,
        maxUses: null,
        pinnedGroup: null,
        createdBy: null,
      },
      h.clock,
    );
    const register = async (body: Json) => {
      const response = await fetch(`${h.url}/runner/register`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    const good = { external_id: 'host-1', hostname: 'host-1', labels: {}, version: '1.0.0' };
    expect(await register({ ...good, external_id: 'host\u00001' })).toEqual({
      status: 400,
      body: { error: 'invalid_external_id' },
    });
    for (const bad of [
      { hostname: 'host\u0000' },
      { labels: { 'env\u0000': 'prod' } },
      { labels: { env: 'prod\u0000' } },
      { version: '1\u0000' },
    ]) {
      expect(await register({ ...good, ...bad })).toEqual({
        status: 400,
        body: { error: 'invalid_request' },
      });
    }
    expect((await register(good)).status).toBe(201);
  });
});

function errorId(body: unknown): string {
  return (body as { error?: { id?: string } })?.error?.id ?? JSON.stringify(body).slice(0, 80);
}

function cookieOf(browser: Browser): string {
  return [...browser.jar.entries()].map(([name, c]) => `${name}=${c.value}`).join('; ');
}

describe('a client address from a trusted proxy', () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp({ config: { trustProxy: ['127.0.0.1/32'] } });
  });
  afterAll(() => h.close());

  const signUpFrom = (forwardedFor: string) =>
    h
      .browser()
      .request(
        'POST',
        '/api/v1/sign_up',
        { email: `${Math.random()}@proxy.test`, workspace_name: 'Proxied' },
        { 'x-forwarded-for': forwardedFor },
      );

  it('is refused when it is not an IP address (it is stored with sessions and audit events)', async () => {
    const bad = await signUpFrom('not-an-address');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { id: 'invalid_input' } });
    expect(String((bad.body as { error: { message: string } }).error.message)).toContain(
      'x-forwarded-for',
    );
    expect((await signUpFrom('203.0.113.7')).status).toBe(202);
  });
});
