import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt } from '../auth/totp.js';
import type { RunnerAccess } from '../core/roles.js';
import { authenticateApiKey, createApiKey } from '../credentials/api-keys.js';
import { insertMember } from '../test-support/accounts.js';
import {
  signInWithCode,
  signUp,
  signUpOwner,
  startTestApp,
  type TestApp,
} from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom } from '../test-support/smtp-sink.js';

type ErrorBody = { error: { id: string } };

describe(`team management (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let accountId: string;
  let ownerMembershipId: string;
  const base = '/api/v1/accounts/team-co';

  beforeAll(async () => {
    h = await startTestApp();
    ({
      browser: owner,
      accountId,
      membershipId: ownerMembershipId,
    } = await signUpOwner(h, 'owner@team.test', 'Team Co'));
  });
  afterAll(() => h.close());

  async function memberBrowser(role: 'admin' | 'operator' | 'viewer', runnerAccess?: RunnerAccess) {
    const member = await insertMember(h.db, accountId, role, { runnerAccess });
    return { ...member, browser: await signInWithCode(h, member.email) };
  }

  it('an admin cannot change, remove or create owners; only owners change owners', async () => {
    const admin = await memberBrowser('admin');
    const demote = await admin.browser.request<ErrorBody>(
      'PATCH',
      `${base}/members/${ownerMembershipId}`,
      { role: 'viewer' },
    );
    expect(demote.status).toBe(403);
    expect(demote.body.error.id).toBe('owners_only');
    expect(
      (await admin.browser.request('DELETE', `${base}/members/${ownerMembershipId}`)).status,
    ).toBe(403);
    expect(
      (await admin.browser.request('POST', `${base}/members/${ownerMembershipId}/suspend`, {}))
        .status,
    ).toBe(403);
    const invite = await admin.browser.request('POST', `${base}/invitations`, {
      email: 'x@team.test',
      role: 'owner',
    });
    expect(invite.status).toBe(403);
    const viewer = await insertMember(h.storage.db, accountId, 'viewer');
    const promote = await admin.browser.request('PATCH', `${base}/members/${viewer.membershipId}`, {
      role: 'owner',
    });
    expect(promote.status).toBe(403);
    const granted = await admin.browser.request('PATCH', `${base}/members/${viewer.membershipId}`, {
      role: 'billing',
    });
    expect(granted.status).toBe(200);
  });

  it('nobody edits their own role or access', async () => {
    const admin = await memberBrowser('admin');
    const self = await admin.browser.request<ErrorBody>(
      'PATCH',
      `${base}/members/${admin.membershipId}`,
      {
        runner_access: { mode: 'all' },
      },
    );
    expect(self.status).toBe(403);
    expect(self.body.error.id).toBe('cannot_edit_self');
  });

  it('a grantor hands out only the runner access they hold', async () => {
    const admin = await memberBrowser('admin', {
      mode: 'restricted',
      groups: ['web'],
      runner_ids: [],
    });
    const target = await insertMember(h.storage.db, accountId, 'operator');
    const wider = await admin.browser.request('PATCH', `${base}/members/${target.membershipId}`, {
      runner_access: { mode: 'all' },
    });
    expect(wider.status).toBe(403);
    const other = await admin.browser.request('PATCH', `${base}/members/${target.membershipId}`, {
      runner_access: { mode: 'restricted', groups: ['db'] },
    });
    expect(other.status).toBe(403);
    const same = await admin.browser.request<{ member: { runner_access: object } }>(
      'PATCH',
      `${base}/members/${target.membershipId}`,
      { runner_access: { mode: 'restricted', groups: ['web'] } },
    );
    expect(same.status).toBe(200);
    expect(same.body.member.runner_access).toEqual({
      mode: 'restricted',
      groups: ['web'],
      runner_ids: [],
    });
  });

  it('the last owner cannot be removed; with a second owner, one can leave', async () => {
    const last = await owner.request<ErrorBody>('DELETE', `${base}/members/${ownerMembershipId}`);
    expect(last.status).toBe(409);
    expect(last.body.error.id).toBe('last_owner');
    const second = await insertMember(h.storage.db, accountId, 'owner');
    const secondBrowser = await signInWithCode(h, second.email);
    const suspended = await owner.request(
      'POST',
      `${base}/members/${second.membershipId}/suspend`,
      {},
    );
    expect(suspended.status).toBe(200);
    // A suspended owner does not count: the first is still the last active one.
    expect((await owner.request('DELETE', `${base}/members/${ownerMembershipId}`)).status).toBe(
      409,
    );
    expect((await secondBrowser.request<ErrorBody>('GET', base)).body.error.id).toBe('suspended');
    await owner.request('POST', `${base}/members/${second.membershipId}/unsuspend`, {});
    expect((await secondBrowser.request('GET', base)).status).toBe(200);
    const demoted = await secondBrowser.request('PATCH', `${base}/members/${ownerMembershipId}`, {
      role: 'admin',
    });
    expect(demoted.status).toBe(200);
    const lastAgain = await secondBrowser.request(
      'DELETE',
      `${base}/members/${second.membershipId}`,
    );
    expect(lastAgain.status).toBe(409);
    await secondBrowser.request('PATCH', `${base}/members/${ownerMembershipId}`, { role: 'owner' });
  });

  it('removing a member revokes their keys; suspending stops them until lifted', async () => {
    const operator = await memberBrowser('operator');
    const minted = await operator.browser.request<{ api_key: { id: string; secret: string } }>(
      'POST',
      `${base}/api-keys`,
      { name: 'agent' },
    );
    expect(minted.status).toBe(201);
    const secret = minted.body.api_key.secret;
    expect(await authenticateApiKey(h.storage.db, secret, h.clock)).not.toBeNull();
    await owner.request('POST', `${base}/members/${operator.membershipId}/suspend`, {});
    const unauthorized = await fetch(`${h.url}${base}`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(unauthorized.status).toBe(401);
    await owner.request('POST', `${base}/members/${operator.membershipId}/unsuspend`, {});
    expect(
      (await fetch(`${h.url}${base}`, { headers: { authorization: `Bearer ${secret}` } })).status,
    ).toBe(200);
    expect((await owner.request('DELETE', `${base}/members/${operator.membershipId}`)).status).toBe(
      200,
    );
    const revoked = await h.storage.db
      .selectFrom('api_keys')
      .select('revoked_at')
      .where('id', '=', minted.body.api_key.id)
      .executeTakeFirstOrThrow();
    expect(revoked.revoked_at).not.toBeNull();
    expect((await operator.browser.request('GET', base)).status).toBe(404);
    const events = await h.storage.db
      .selectFrom('audit_events')
      .select('event_type')
      .where('account_id', '=', accountId)
      .execute();
    expect(events.map((e) => e.event_type)).toEqual(
      expect.arrayContaining(['membership.suspended', 'membership.removed', 'api_key.revoked']),
    );
  });

  it('identical 401s for bad, expired and revoked API keys', async () => {
    const key = await createApiKey(
      h.storage.db,
      {
        accountId,
        kind: 'mcp',
        membershipId: ownerMembershipId,
        name: 'short',
        createdBy: null,
        expiresAt: new Date(h.clock.now().getTime() + 1000),
      },
      h.clock,
    );
    const revoked = await owner.request<{ api_key: { id: string; secret: string } }>(
      'POST',
      `${base}/api-keys`,
      { name: 'r' },
    );
    await owner.request('DELETE', `${base}/api-keys/${revoked.body.api_key.id}`);
    h.clock.advance(2000);
    const bodies = [];
    for (const bearer of [
      key.secret,
      revoked.body.api_key.secret,
      'emk-nonsense',
      `${key.secret.slice(0, -2)}xx`,
    ]) {
      const response = await fetch(`${h.url}${base}/members`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { request_id: string };
      bodies.push({ ...body, request_id: null, www: response.headers.get('www-authenticate') });
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
  });

  it('invitations: an existing user accepts while signed in; others and stale links are refused', async () => {
    const existing = await signUp(h, 'existing@team.test', 'Existing Co');
    const invited = await owner.request('POST', `${base}/invitations`, {
      email: 'existing@team.test',
      role: 'viewer',
    });
    expect(invited.status).toBe(201);
    const token = fragmentSecretFrom(
      (await h.smtp.next('existing@team.test')).text ?? '',
      '/accept_invitation',
    );
    const stranger = await signUp(h, 'stranger@team.test', 'Stranger Co');
    const wrongUser = await stranger.request<ErrorBody>('POST', '/api/v1/invitations/accept', {
      token,
    });
    expect(wrongUser.body.error.id).toBe('wrong_user');
    const cookiesBefore = JSON.stringify([...existing.jar]);
    const accepted = await existing.request('POST', '/api/v1/invitations/accept', { token });
    expect(accepted.body).toEqual({ account: 'team-co', status: 'signed_in' });
    expect(JSON.stringify([...existing.jar])).toBe(cookiesBefore);
    expect((await existing.request('GET', base)).status).toBe(200);
    expect(
      (await h.browser().request('POST', '/api/v1/invitations/accept', { token })).status,
    ).toBe(401);

    await owner.request('POST', `${base}/invitations`, { email: 'late@team.test', role: 'viewer' });
    const late = fragmentSecretFrom(
      (await h.smtp.next('late@team.test')).text ?? '',
      '/accept_invitation',
    );
    h.clock.advance(7 * 86_400_000 + 1);
    expect(
      (await h.browser().request('POST', '/api/v1/invitations/accept', { token: late })).status,
    ).toBe(401);
  });

  it('refuses malformed team and key requests with a bounded 400 and changes nothing', async () => {
    const target = await insertMember(h.storage.db, accountId, 'viewer');
    const cases: [string, string, unknown][] = [
      ['PATCH', `/members/${target.membershipId}`, { role: 'god' }],
      ['PATCH', `/members/${target.membershipId}`, {}],
      ['PATCH', `/members/${target.membershipId}`, { role: 'viewer', extra: true }],
      [
        'PATCH',
        `/members/${target.membershipId}`,
        { runner_access: { mode: 'restricted', groups: 'web' } },
      ],
      ['PATCH', '/members/not-a-uuid', { role: 'viewer' }],
      ['POST', '/invitations', { email: 'nope', role: 'viewer' }],
      ['POST', '/invitations', { email: 'ok@team.test', role: 'root' }],
      ['POST', '/api-keys', { name: '' }],
      ['POST', '/api-keys', { name: 'k', expires_in_days: 366 }],
      ['POST', '/api-keys', { name: 'k', kind: 'root' }],
      ['POST', '/enrollment-keys', { reusable: 'yes' }],
      ['PATCH', '/settings', { require_mfa: 'yes' }],
      ['PATCH', '/settings', { max_grant_lifetime_seconds: -1 }],
      ['PATCH', '/settings', {}],
    ];
    for (const [method, path, body] of cases) {
      const response = await owner.request<ErrorBody>(method, `${base}${path}`, body);
      expect(`${method} ${path} ${JSON.stringify(body)} → ${response.status}`).toBe(
        `${method} ${path} ${JSON.stringify(body)} → 400`,
      );
      expect(response.body.error.id).toBe('invalid_params');
    }
    const unchanged = await h.storage.db
      .selectFrom('memberships')
      .select('role')
      .where('id', '=', target.membershipId)
      .executeTakeFirstOrThrow();
    expect(unchanged.role).toBe('viewer');
    const invited = await h.storage.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'ok@team.test')
      .execute();
    expect(invited).toEqual([]);
  });

  it('signing up again with a registered address only sends a code, no second workspace', async () => {
    const browser = h.browser();
    const again = await browser.request('POST', '/api/v1/sign_up', {
      email: 'owner@team.test',
      workspace_name: 'Another',
    });
    expect(again.status).toBe(202);
    await h.smtp.next('owner@team.test');
    const accounts = await h.storage.db
      .selectFrom('accounts')
      .select('slug')
      .where('name', '=', 'Another')
      .execute();
    expect(accounts).toEqual([]);
  });

  it("an admin ends a member's sessions or resets their MFA, only for people of this workspace alone", async () => {
    const member = await memberBrowser('viewer');
    const enrol = await member.browser.request<{ secret: string }>(
      'POST',
      '/api/v1/me/mfa/totp',
      {},
    );
    await member.browser.request('POST', '/api/v1/me/mfa/totp/confirm', {
      code: totpCodeAt(enrol.body.secret, h.clock.now()),
    });
    const admin = await memberBrowser('admin');
    expect(
      (await admin.browser.request('POST', `${base}/members/${member.membershipId}/reset_mfa`, {}))
        .status,
    ).toBe(200);
    const user = await h.storage.db
      .selectFrom('users')
      .select(['totp_secret_ciphertext', 'mfa_enabled_at'])
      .where('id', '=', member.userId)
      .executeTakeFirstOrThrow();
    expect(user).toEqual({ totp_secret_ciphertext: null, mfa_enabled_at: null });
    expect(
      (
        await admin.browser.request(
          'POST',
          `${base}/members/${member.membershipId}/end_sessions`,
          {},
        )
      ).status,
    ).toBe(200);
    expect((await member.browser.request('GET', '/api/v1/me')).status).toBe(401);

    const ownerReset = await admin.browser.request<ErrorBody>(
      'POST',
      `${base}/members/${ownerMembershipId}/reset_mfa`,
      {},
    );
    expect(ownerReset.body.error.id).toBe('owners_only');
    const shared = await signUp(h, 'shared@team.test', 'Shared Co');
    await owner.request('POST', `${base}/invitations`, {
      email: 'shared@team.test',
      role: 'viewer',
    });
    const token = fragmentSecretFrom(
      (await h.smtp.next('shared@team.test')).text ?? '',
      '/accept_invitation',
    );
    await shared.request('POST', '/api/v1/invitations/accept', { token });
    const sharedMember = await h.storage.db
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select('m.id')
      .where('u.email', '=', 'shared@team.test')
      .where('m.account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    const refused = await owner.request<ErrorBody>(
      'POST',
      `${base}/members/${sharedMember.id}/end_sessions`,
      {},
    );
    expect(refused.body.error.id).toBe('member_of_other_workspaces');
    expect((await shared.request('GET', '/api/v1/me')).status).toBe(200);
  });
});
