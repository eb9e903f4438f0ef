import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PERMISSIONS, ROLE_PERMISSIONS, ROLES, type Role } from '../core/roles.js';
import { createApiKey } from '../credentials/api-keys.js';
import { createEnrollmentKey } from '../credentials/enrollment-keys.js';
import { FLEET_PATHS, fleetMatrixFixtures } from '../fleet/test-support/matrix-fixtures.js';
import { accountRoutesOf } from '../http/account-routes.js';
import { POLICY_PATHS, policyMatrixFixtures } from '../policy/test-support/matrix-fixtures.js';
import { RUNS_PATHS, runsMatrixFixtures } from '../runs/test-support/matrix-fixtures.js';
import { insertMember } from '../test-support/accounts.js';
import { signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom } from '../test-support/smtp-sink.js';

interface Caller {
  role: Role;
  browser: Browser;
  membershipId: string;
}

type Fixture = (caller: { membershipId: string; accountId: string }) => Promise<{
  path: string;
  body?: unknown;
}>;

/** The account-scoped routes of the identity domains live under these paths. */
const IDENTITY_PATHS =
  /^(|\/settings|\/members.*|\/invitations.*|\/api-keys.*|\/enrollment-keys.*)$/;

// Hundreds of real HTTP requests per test: generous timeouts for a loaded machine.
describe(`role × endpoint matrix (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  const callers: Caller[] = [];
  let accountA: { id: string; slug: string };
  let outsider: Browser;
  let outsiderAccountId: string;

  beforeAll(async () => {
    h = await startTestApp();
    const owner = await signUpOwner(h, 'owner@a.test', 'Matrix A');
    accountA = { id: owner.accountId, slug: owner.slug };
    callers.push({ role: 'owner', browser: owner.browser, membershipId: owner.membershipId });
    for (const role of ROLES.filter((r) => r !== 'owner')) {
      const email = `${role}@a.test`;
      const invited = await owner.browser.request<{ invitation: { id: string } }>(
        'POST',
        '/api/v1/accounts/matrix-a/invitations',
        { email, role },
      );
      expect(invited.status).toBe(201);
      const token = fragmentSecretFrom((await h.smtp.next(email)).text ?? '', '/accept_invitation');
      const browser = h.browser();
      const accepted = await browser.request('POST', '/api/v1/invitations/accept', { token });
      expect(accepted.body).toEqual({ account: 'matrix-a', status: 'signed_in' });
      callers.push({ role, browser, membershipId: invited.body.invitation.id });
    }
    ({ browser: outsider, accountId: outsiderAccountId } = await signUpOwner(
      h,
      'owner@b.test',
      'Matrix B',
    ));
  }, 180_000);
  afterAll(() => h.close());

  const target = async (
    accountId: string,
    state: { suspended?: boolean; pending?: boolean } = {},
  ) => (await insertMember(h.storage.db, accountId, 'viewer', state)).membershipId;

  const fixtures: Record<string, Fixture> = {
    'GET ': async () => ({ path: '' }),
    'PATCH /settings': async () => ({
      path: '/settings',
      body: { pack_unseen_retention_days: 30 },
    }),
    'GET /members': async () => ({ path: '/members' }),
    'PATCH /members/:id': async ({ accountId }) => ({
      path: `/members/${await target(accountId)}`,
      body: { role: 'operator' },
    }),
    'POST /members/:id/suspend': async ({ accountId }) => ({
      path: `/members/${await target(accountId)}/suspend`,
      body: {},
    }),
    'POST /members/:id/unsuspend': async ({ accountId }) => ({
      path: `/members/${await target(accountId, { suspended: true })}/unsuspend`,
      body: {},
    }),
    'POST /members/:id/end_sessions': async ({ accountId }) => ({
      path: `/members/${await target(accountId)}/end_sessions`,
      body: {},
    }),
    'POST /members/:id/reset_mfa': async ({ accountId }) => ({
      path: `/members/${await target(accountId)}/reset_mfa`,
      body: {},
    }),
    'DELETE /members/:id': async ({ accountId }) => ({
      path: `/members/${await target(accountId)}`,
    }),
    'GET /invitations': async () => ({ path: '/invitations' }),
    'POST /invitations': async () => ({
      path: '/invitations',
      body: { email: `new-${Math.random()}@a.test`, role: 'viewer' },
    }),
    'DELETE /invitations/:id': async ({ accountId }) => ({
      path: `/invitations/${await target(accountId, { pending: true })}`,
    }),
    'GET /api-keys': async () => ({ path: '/api-keys' }),
    'POST /api-keys': async () => ({ path: '/api-keys', body: { name: 'matrix' } }),
    'POST /api-keys/:id/rotate': async (caller) => ({
      path: `/api-keys/${await ownKey(caller)}/rotate`,
      body: {},
    }),
    'DELETE /api-keys/:id': async (caller) => ({ path: `/api-keys/${await ownKey(caller)}` }),
    'GET /enrollment-keys': async () => ({ path: '/enrollment-keys' }),
    'POST /enrollment-keys': async () => ({ path: '/enrollment-keys', body: {} }),
    'DELETE /enrollment-keys/:id': async ({ accountId }) => ({
      path: `/enrollment-keys/${await enrollmentKey(accountId)}`,
    }),
    ...policyMatrixFixtures(() => h.storage.db),
    ...fleetMatrixFixtures(() => h.storage.db),
    ...runsMatrixFixtures(() => ({
      storage: h.storage,
      bus: h.bus,
      clock: h.clock,
      secretKey: h.config.secretKey,
    })),
  };

  async function ownKey(caller: { membershipId: string; accountId: string }) {
    const key = await createApiKey(
      h.storage.db,
      {
        accountId: caller.accountId,
        kind: 'mcp',
        membershipId: caller.membershipId,
        name: 'own',
        createdBy: null,
      },
      h.clock,
    );
    return key.id;
  }
  async function enrollmentKey(accountId: string) {
    const key = await createEnrollmentKey(
      h.storage.db,
      {
        accountId,
        name: 'matrix',
        reusable: false,
        maxUses: null,
        pinnedGroup: null,
        createdBy: null,
      },
      h.clock,
    );
    return key.id;
  }

  const routes = () =>
    accountRoutesOf(h.app).filter(
      (r) =>
        IDENTITY_PATHS.test(r.path) ||
        POLICY_PATHS.test(r.path) ||
        FLEET_PATHS.test(r.path) ||
        RUNS_PATHS.test(r.path),
    );

  it('has a fixture for every identity route', () => {
    const missing = routes()
      .map((r) => `${r.method} ${r.path}`)
      .filter((key) => !fixtures[key]);
    expect(missing).toEqual([]);
    expect(routes().length).toBe(Object.keys(fixtures).length);
  });

  it('allows exactly the roles holding the permission; 403 for the others', async () => {
    const outcomes: string[] = [];
    for (const route of routes()) {
      for (const caller of callers) {
        const { path, body } = await fixtures[`${route.method} ${route.path}`]!({
          membershipId: caller.membershipId,
          accountId: accountA.id,
        });
        const response = await caller.browser.request(
          route.method as string,
          `/api/v1/accounts/matrix-a${path}`,
          body,
        );
        const allowed = ROLE_PERMISSIONS[caller.role].has(route.permission);
        const ok = allowed
          ? response.status >= 200 && response.status < 300
          : response.status === 403;
        if (!ok)
          outcomes.push(
            `${caller.role} ${route.method} ${route.path} → ${response.status} ${JSON.stringify(response.body)}`,
          );
      }
    }
    expect(outcomes).toEqual([]);
  }, 180_000);

  it('answers 404 to another tenant, by slug and by id, exactly like a missing account', async () => {
    const outcomes: string[] = [];
    const owner = callers[0]!;
    for (const route of routes()) {
      const fixture = fixtures[`${route.method} ${route.path}`]!;
      // B's owner aims at account A by slug.
      const bySlug = await fixture({ membershipId: owner.membershipId, accountId: accountA.id });
      const slugResponse = await outsider.request(
        route.method as string,
        `/api/v1/accounts/matrix-a${bySlug.path}`,
        bySlug.body,
      );
      if (slugResponse.status !== 404)
        outcomes.push(`slug ${route.method} ${route.path} → ${slugResponse.status}`);
      const missing = await outsider.request(
        route.method as string,
        `/api/v1/accounts/no-such-ws${bySlug.path}`,
        bySlug.body,
      );
      expect(missing.status).toBe(404);
      expect({ ...(slugResponse.body as object), request_id: null }).toEqual({
        ...(missing.body as object),
        request_id: null,
      });
      // A's owner aims at B's resources by id through A's slug.
      if (route.path.includes(':id')) {
        const byId = await fixture({
          membershipId: owner.membershipId,
          accountId: outsiderAccountId,
        });
        const idResponse = await owner.browser.request(
          route.method as string,
          `/api/v1/accounts/matrix-a${byId.path}`,
          byId.body,
        );
        if (idResponse.status !== 404)
          outcomes.push(`id ${route.method} ${route.path} → ${idResponse.status}`);
      }
    }
    expect(outcomes).toEqual([]);
  }, 180_000);

  it('an mcp API key acts only within the api key column of its member', async () => {
    const operator = callers.find((c) => c.role === 'operator')!;
    const key = await createApiKey(
      h.storage.db,
      {
        accountId: accountA.id,
        kind: 'mcp',
        membershipId: operator.membershipId,
        name: 'agent',
        createdBy: null,
      },
      h.clock,
    );
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${h.url}/api/v1/accounts/matrix-a${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key.secret}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    expect((await call('GET', '')).status).toBe(200);
    for (const route of routes().filter((r) => r.path !== '')) {
      const { path, body } = await fixtures[`${route.method} ${route.path}`]!({
        membershipId: operator.membershipId,
        accountId: accountA.id,
      });
      const response = await call(route.method as string, path, body);
      const allowed =
        !route.sessionOnly &&
        API_KEY_PERMISSIONS.has(route.permission) &&
        ROLE_PERMISSIONS.operator.has(route.permission);
      const status = allowed && response.status < 300 ? '2xx' : String(response.status);
      expect(`${route.method} ${route.path} ${status}`).toBe(
        `${route.method} ${route.path} ${allowed ? '2xx' : '403'}`,
      );
      // Beyond what any key kind may do, the refusal names the key kind, not the role.
      if (route.sessionOnly || !API_KEY_PERMISSIONS.has(route.permission)) {
        const { error } = (await response.json()) as { error: { message: string } };
        expect(`${route.method} ${route.path} ${error.message}`).toBe(
          `${route.method} ${route.path} An mcp API key cannot do this: only a signed-in person can (in the console).`,
        );
      }
    }
    const other = await fetch(`${h.url}/api/v1/accounts/matrix-b`, {
      headers: { authorization: `Bearer ${key.secret}` },
    });
    expect(other.status).toBe(404);
  }, 180_000);
});
