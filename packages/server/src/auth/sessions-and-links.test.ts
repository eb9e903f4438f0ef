import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiKey } from '../credentials/api-keys.js';
import { consumeEnrollmentKey } from '../credentials/enrollment-keys.js';
import { SESSION_COOKIE } from '../http/auth.js';
import { mintBootstrapLink } from '../members/bootstrap-link.js';
import { signInWithCode, signUp, startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom } from '../test-support/smtp-sink.js';
import { REAUTH_WINDOW_MS, recentlyAuthenticated } from './sessions.js';
import { totpCodeAt } from './totp.js';

type ErrorBody = { error: { id: string } };

describe(`sessions, emailed links and credentials (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  it('lists sessions with their metadata and revokes one or all others', async () => {
    const email = 'sessions@example.test';
    const first = await signUp(h, email, 'Sessions Co');
    const second = await signInWithCode(h, email);
    const third = await signInWithCode(h, email);
    const listed = await first.request<{
      sessions: {
        id: string;
        current: boolean;
        auth_method: string;
        ip_address: string;
        user_agent: string;
      }[];
    }>('GET', '/api/v1/me/sessions');
    expect(listed.body.sessions).toHaveLength(3);
    expect(listed.body.sessions.filter((s) => s.current)).toHaveLength(1);
    expect(listed.body.sessions[0]).toMatchObject({ auth_method: 'code', ip_address: '127.0.0.1' });
    const secondId = (await second.request<{ session: { id: string } }>('GET', '/api/v1/me')).body
      .session.id;
    expect((await first.request('DELETE', `/api/v1/me/sessions/${secondId}`)).status).toBe(200);
    expect((await second.request('GET', '/api/v1/me')).status).toBe(401);
    expect((await first.request('DELETE', `/api/v1/me/sessions/${secondId}`)).status).toBe(404);
    expect((await first.request('POST', '/api/v1/me/sessions/revoke_others', {})).body).toEqual({
      revoked: 1,
    });
    expect((await third.request('GET', '/api/v1/me')).status).toBe(401);
    expect((await first.request('GET', '/api/v1/me')).status).toBe(200);
    h.clock.advance(60 * 86_400_000 + 1);
    expect((await first.request('GET', '/api/v1/me')).status).toBe(401);
  });

  it('confirms an email from the resent link, once', async () => {
    const email = 'confirm@example.test';
    const browser = await signUp(h, email, 'Confirm Co');
    expect(
      (await browser.request<ErrorBody>('POST', '/api/v1/me/confirmation', {})).body.error.id,
    ).toBe('already_confirmed');
    await h.storage.db
      .updateTable('users')
      .set({ confirmed_at: null })
      .where('email', '=', email)
      .execute();
    expect((await browser.request('POST', '/api/v1/me/confirmation', {})).status).toBe(202);
    const token = fragmentSecretFrom((await h.smtp.next(email)).text ?? '', '/confirm');
    const elsewhere = h.browser();
    expect((await elsewhere.request('POST', '/api/v1/email/confirm', { token })).body).toEqual({
      status: 'confirmed',
    });
    expect(elsewhere.cookieNames()).toEqual([]);
    expect((await elsewhere.request('POST', '/api/v1/email/confirm', { token })).status).toBe(401);
    const me = await browser.request<{ user: { confirmed: boolean } }>('GET', '/api/v1/me');
    expect(me.body.user.confirmed).toBe(true);
  });

  it('bootstrap link: loopback only, single use, 15 minutes', async () => {
    await signUp(h, 'boot@example.test', 'Boot Co');
    const minted = await mintBootstrapLink(h.storage.db, h.config.baseUrl, h.clock);
    const token = minted!.link.split('#')[1]!;
    const remote = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sign_in/bootstrap',
      remoteAddress: '203.0.113.9',
      headers: { origin: h.config.baseUrl },
      payload: { token },
    });
    expect(remote.statusCode).toBe(404);
    const browser = h.browser();
    const signedIn = await browser.request('POST', '/api/v1/sign_in/bootstrap', { token });
    expect(signedIn.body).toEqual({ status: 'signed_in' });
    expect(browser.cookieNames()).toEqual([SESSION_COOKIE]);
    expect((await h.browser().request('POST', '/api/v1/sign_in/bootstrap', { token })).status).toBe(
      401,
    );
    const late = (await mintBootstrapLink(h.storage.db, h.config.baseUrl, h.clock))!.link.split(
      '#',
    )[1]!;
    h.clock.advance(15 * 60_000 + 1);
    expect(
      (await h.browser().request('POST', '/api/v1/sign_in/bootstrap', { token: late })).status,
    ).toBe(401);
  });

  it('require_mfa: needs the admin to have MFA, then forces members through enrolment', async () => {
    const email = 'strict@example.test';
    const owner = await signUp(h, email, 'Strict Co');
    const base = '/api/v1/accounts/strict-co';
    const refused = await owner.request<ErrorBody>('PATCH', `${base}/settings`, {
      require_mfa: true,
    });
    expect(refused.body.error.id).toBe('mfa_required');
    const enrol = await owner.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    await owner.request('POST', '/api/v1/me/mfa/totp/confirm', {
      code: totpCodeAt(enrol.body.secret, h.clock.now()),
    });
    expect((await owner.request('PATCH', `${base}/settings`, { require_mfa: true })).status).toBe(
      200,
    );

    await owner.request('POST', `${base}/invitations`, {
      email: 'member@strict.test',
      role: 'viewer',
    });
    const token = fragmentSecretFrom(
      (await h.smtp.next('member@strict.test')).text ?? '',
      '/accept_invitation',
    );
    const member = h.browser();
    await member.request('POST', '/api/v1/invitations/accept', { token });
    expect((await member.request<ErrorBody>('GET', base)).body.error.id).toBe('mfa_required');
    const memberEnrol = await member.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    await member.request('POST', '/api/v1/me/mfa/totp/confirm', {
      code: totpCodeAt(memberEnrol.body.secret, h.clock.now()),
    });
    expect((await member.request('GET', base)).status).toBe(200);
  });

  it('API keys rotate within their lineage; audit export keys are for owners and admins', async () => {
    const owner = await signUp(h, 'keys@example.test', 'Keys Co');
    const base = '/api/v1/accounts/keys-co';
    const created = await owner.request<{
      api_key: { id: string; secret: string; lineage_id: string; expires_at: string };
    }>('POST', `${base}/api-keys`, { name: 'agent', expires_in_days: 7 });
    expect(new Date(created.body.api_key.expires_at).getTime() - h.clock.now().getTime()).toBe(
      7 * 86_400_000,
    );
    const rotated = await owner.request<{
      api_key: { id: string; secret: string; lineage_id: string };
    }>('POST', `${base}/api-keys/${created.body.api_key.id}/rotate`, {});
    expect(rotated.body.api_key.lineage_id).toBe(created.body.api_key.lineage_id);
    expect(await authenticateApiKey(h.storage.db, created.body.api_key.secret, h.clock)).toBeNull();
    expect(
      await authenticateApiKey(h.storage.db, rotated.body.api_key.secret, h.clock),
    ).toMatchObject({ lineageId: created.body.api_key.lineage_id });
    const listed = await owner.request<{ api_keys: Record<string, unknown>[] }>(
      'GET',
      `${base}/api-keys`,
    );
    expect(listed.body.api_keys).toHaveLength(2);
    expect(JSON.stringify(listed.body)).not.toContain('emk-');
    expect(
      (await owner.request('POST', `${base}/api-keys`, { name: 'x', expires_in_days: null }))
        .status,
    ).toBe(400);

    await owner.request('POST', `${base}/invitations`, { email: 'op@keys.test', role: 'operator' });
    const token = fragmentSecretFrom(
      (await h.smtp.next('op@keys.test')).text ?? '',
      '/accept_invitation',
    );
    const operator = h.browser();
    await operator.request('POST', '/api/v1/invitations/accept', { token });
    expect(
      (await operator.request('POST', `${base}/api-keys`, { name: 'siem', kind: 'audit_export' }))
        .status,
    ).toBe(403);
    const own = await operator.request<{ api_key: { id: string } }>('POST', `${base}/api-keys`, {
      name: 'mine',
    });
    expect(own.status).toBe(201);
    // The operator sees only their own key; the owner's is a 404 to them.
    const mine = await operator.request<{ api_keys: { id: string }[] }>('GET', `${base}/api-keys`);
    expect(mine.body.api_keys.map((k) => k.id)).toEqual([own.body.api_key.id]);
    expect(
      (await operator.request('DELETE', `${base}/api-keys/${rotated.body.api_key.id}`)).status,
    ).toBe(404);
  });

  it('enrollment keys: single use by default, reusable up to max uses, pinned group, revocable', async () => {
    const owner = await signUp(h, 'fleet@example.test', 'Fleet Co');
    const base = '/api/v1/accounts/fleet-co';
    type Key = { enrollment_key: { id: string; secret: string } };
    const single = await owner.request<Key>('POST', `${base}/enrollment-keys`, { group: 'web' });
    const use = (secret: string) =>
      h.storage.db.transaction().execute((trx) => consumeEnrollmentKey(trx, secret, h.clock));
    expect(await use(single.body.enrollment_key.secret)).toMatchObject({ pinnedGroup: 'web' });
    expect(await use(single.body.enrollment_key.secret)).toBeNull();

    const reusable = await owner.request<Key>('POST', `${base}/enrollment-keys`, {
      reusable: true,
      max_uses: 2,
      expires_in_hours: 1,
    });
    expect(await use(reusable.body.enrollment_key.secret)).not.toBeNull();
    expect(await use(reusable.body.enrollment_key.secret)).not.toBeNull();
    expect(await use(reusable.body.enrollment_key.secret)).toBeNull();

    const revoked = await owner.request<Key>('POST', `${base}/enrollment-keys`, { reusable: true });
    await owner.request('DELETE', `${base}/enrollment-keys/${revoked.body.enrollment_key.id}`);
    expect(await use(revoked.body.enrollment_key.secret)).toBeNull();

    const expiring = await owner.request<Key>('POST', `${base}/enrollment-keys`, {
      expires_in_hours: 1,
    });
    h.clock.advance(3_600_000);
    expect(await use(expiring.body.enrollment_key.secret)).toBeNull();
    expect((await owner.request('POST', `${base}/enrollment-keys`, { max_uses: 3 })).status).toBe(
      400,
    );
    expect(
      (await owner.request('POST', `${base}/enrollment-keys`, { group: 'Bad Group' })).status,
    ).toBe(400);
  });

  it("writes a person's sign-in events to every workspace they belong to", async () => {
    const email = 'two@example.test';
    const browser = await signUp(h, email, 'Two One');
    const second = await browser.request<{ slug: string }>('POST', '/api/v1/accounts', {
      name: 'Two Two',
    });
    expect(second.status).toBe(201);
    expect(
      (await browser.request('POST', '/api/v1/accounts', { name: 'Taken', slug: 'two-one' }))
        .status,
    ).toBe(409);
    const signInEvents = () =>
      h.db
        .selectFrom('audit_events as e')
        .innerJoin('accounts as a', 'a.id', 'e.account_id')
        .select(['e.id', 'a.slug', 'e.ip_address'])
        .where('e.event_type', '=', 'user.signed_in')
        .where('e.actor_label', '=', email)
        .execute();
    const earlier = new Set((await signInEvents()).map((e) => e.id));
    await signInWithCode(h, email);
    const latest = (await signInEvents()).filter((e) => !earlier.has(e.id));
    expect(latest.map((e) => e.slug).sort()).toEqual(['two-one', second.body.slug].sort());
    expect(latest.map((e) => e.ip_address)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('re-authentication refreshes the session for sensitive actions', async () => {
    const email = 'reauth@example.test';
    const browser = await signUp(h, email, 'Reauth Co');
    const principal = async () => {
      const { session } = (await browser.request<{ session: { id: string } }>('GET', '/api/v1/me'))
        .body;
      const row = await h.storage.db
        .selectFrom('sessions')
        .select('authenticated_at')
        .where('id', '=', session.id)
        .executeTakeFirstOrThrow();
      return { authenticatedAt: row.authenticated_at };
    };
    expect(recentlyAuthenticated(await principal(), h.clock)).toBe(true);
    h.clock.advance(REAUTH_WINDOW_MS + 1);
    expect(recentlyAuthenticated(await principal(), h.clock)).toBe(false);
    expect(
      (await browser.request('POST', '/api/v1/me/reauth', { password: 'no password set yet' }))
        .status,
    ).toBe(401);
    await browser.request('POST', '/api/v1/me/password', { password: 'reauth password 1' });
    expect(
      (await browser.request('POST', '/api/v1/me/reauth', { password: 'wrong password 11' }))
        .status,
    ).toBe(401);
    expect(
      (await browser.request('POST', '/api/v1/me/reauth', { password: 'reauth password 1' }))
        .status,
    ).toBe(200);
    expect(recentlyAuthenticated(await principal(), h.clock)).toBe(true);

    const enrol = await browser.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    await browser.request('POST', '/api/v1/me/mfa/totp/confirm', {
      code: totpCodeAt(enrol.body.secret, h.clock.now()),
    });
    h.clock.advance(REAUTH_WINDOW_MS + 1);
    expect(recentlyAuthenticated(await principal(), h.clock)).toBe(false);
    expect((await browser.request('POST', '/api/v1/me/reauth', { code: '000000' })).status).toBe(
      401,
    );
    const ok = await browser.request('POST', '/api/v1/me/reauth', {
      code: totpCodeAt(enrol.body.secret, h.clock.now()),
    });
    expect(ok.status).toBe(200);
    expect(recentlyAuthenticated(await principal(), h.clock)).toBe(true);
  });
});
