import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedRunner } from '../approvals/test-support/fixtures.js';
import { signUp, signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { decidePolicy } from './decide.js';
import { DEFAULT_POLICY_RULES } from './default-policy.js';
import type { PolicyRules } from './rules.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in assertions.
type Loose = Record<string, any>;

interface Workspace {
  owner: Browser;
  base: string;
  accountId: string;
  runner: { id: string; name: string; group: string };
}

describe(`policy editor API (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let outsider: Browser;
  /** Shared by the tests that leave the account policy as they found it. */
  let shared: Workspace;

  /** A workspace of its own, with a runner of group `web` trusting the repo's packs. */
  const workspace = async (name: string): Promise<Workspace> => {
    const signedUp = await signUpOwner(h, `owner@${name}.test`, name);
    const runner = await trustedRunner(h.db, h, signedUp.accountId, 'web');
    return { owner: signedUp.browser, base: signedUp.base, accountId: signedUp.accountId, runner };
  };

  beforeAll(async () => {
    h = await startTestApp();
    shared = await workspace('pol-a');
    outsider = await signUp(h, 'owner@pol-b.test', 'Pol B');
  });
  afterAll(() => h.close());

  const rules = (patch: Partial<PolicyRules> = {}): PolicyRules => ({
    ...structuredClone(DEFAULT_POLICY_RULES),
    ...patch,
  });
  const policyEvents = async (accountId: string) =>
    h.db
      .selectFrom('audit_events')
      .select(['event_type', 'payload'])
      .where('account_id', '=', accountId)
      .where('event_type', 'like', 'policy.%')
      .orderBy('seq')
      .execute();

  it('lists the default account policy every account gets', async () => {
    const { owner, base: BASE } = await workspace('pol-list');
    const response = await owner.request<Loose>('GET', `${BASE}/policies`);
    expect(response.status).toBe(200);
    expect(response.body.policies).toEqual([
      expect.objectContaining({
        scope: 'account',
        scope_ref: '',
        vsn: 1,
        rules: DEFAULT_POLICY_RULES,
      }),
    ]);
    expect(response.body.agents_stopped_at).toBeNull();
  });

  it('rejects a non-monotonic policy and changes nothing', async () => {
    const { owner, base: BASE, accountId } = await workspace('pol-bad');
    const before = await policyEvents(accountId);
    const response = await owner.request<Loose>('PUT', `${BASE}/policies/account`, {
      rules: rules({
        defaults: { low: 'allow', medium: 'require_approval', high: 'allow', critical: 'deny' },
      }),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.id).toBe('invalid_policy');
    expect(response.body.error.message).toContain('defaults.high');
    const current = await owner.request<Loose>('GET', `${BASE}/policies/account`);
    expect(current.body.policy).toMatchObject({ vsn: 1, rules: DEFAULT_POLICY_RULES });
    expect(await policyEvents(accountId)).toEqual(before);
  });

  it.each([
    ['no rules', {}],
    [
      'min_approvals 0',
      { rules: rules({ approval: { min_approvals: 0, allow_self_approval: true } }) },
    ],
    ['an unknown key', { rules: rules(), extra: 1 }],
    [
      'a bad glob',
      { rules: rules({ overrides: [{ name: 'x', action: 'a b', decision: 'deny' }] }) },
    ],
  ])('rejects %s with 400', async (_, body) => {
    const { owner, base: BASE } = shared;
    const response = await owner.request<Loose>('PUT', `${BASE}/policies/account`, body);
    expect(response.status).toBe(400);
  });

  it('saves a valid policy: vsn bumps, policy.updated carries the diff, decidePolicy sees it', async () => {
    const { owner, base: BASE, accountId, runner } = await workspace('pol-save');
    const next = rules({
      defaults: {
        low: 'allow',
        medium: 'require_approval',
        high: 'require_approval',
        critical: 'deny',
      },
      overrides: [{ name: 'uptime ok', action: 'linux.uptime', decision: 'allow' }],
      approval: { min_approvals: 2, allow_self_approval: false },
    });
    const response = await owner.request<Loose>('PUT', `${BASE}/policies/account`, {
      rules: next,
      expected_vsn: 1,
    });
    expect(response.status).toBe(200);
    expect(response.body.policy).toMatchObject({ vsn: 2, rules: next });
    const events = await policyEvents(accountId);
    expect(events.at(-1)).toEqual({
      event_type: 'policy.updated',
      payload: {
        scope: 'account',
        scope_ref: '',
        vsn_from: 1,
        vsn: 2,
        diff: {
          defaults: [{ tier: 'medium', from: 'allow', to: 'require_approval' }],
          approval: [
            { field: 'min_approvals', from: 1, to: 2 },
            { field: 'allow_self_approval', from: true, to: false },
          ],
          overrides: {
            added: [{ name: 'uptime ok', action: 'linux.uptime', decision: 'allow' }],
            removed: [],
            changed: [],
            reordered: false,
          },
        },
      },
    });
    const decided = await decidePolicy(h.db, {
      accountId,
      runner,
      actionId: 'linux.tail_log',
      risk: 'medium',
      viaAgent: false,
    });
    expect(decided).toMatchObject({
      decision: 'require_approval',
      snapshot: { vsn: 2 },
      approval: { min_approvals: 2, allow_self_approval: false },
    });

    // A stale editor loses: someone saved vsn 2 meanwhile.
    const stale = await owner.request<Loose>('PUT', `${BASE}/policies/account`, {
      rules: rules(),
      expected_vsn: 1,
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.id).toBe('policy_changed');
    const restored = await owner.request<Loose>('PUT', `${BASE}/policies/account`, {
      rules: rules(),
    });
    expect(restored.body.policy.vsn).toBe(3);
  });

  it('group and runner scopes: create, replace the account policy, delete', async () => {
    const { owner, base: BASE, accountId, runner } = await workspace('pol-scopes');
    const strict = rules({
      defaults: { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' },
    });
    const group = await owner.request<Loose>('PUT', `${BASE}/policies/group/web`, {
      rules: strict,
    });
    expect(group.status).toBe(200);
    expect(group.body.policy).toMatchObject({ scope: 'group', scope_ref: 'web', vsn: 1 });
    const ask = () =>
      decidePolicy(h.db, {
        accountId,
        runner,
        actionId: 'linux.uptime',
        risk: 'low',
        viaAgent: false,
      });
    expect(await ask()).toMatchObject({ decision: 'deny', snapshot: { scope: 'group' } });

    const byRunner = await owner.request<Loose>('PUT', `${BASE}/policies/runner/${runner.id}`, {
      rules: rules(),
    });
    expect(byRunner.status).toBe(200);
    expect(await ask()).toMatchObject({ decision: 'allow', snapshot: { scope: 'runner' } });
    const listed = await owner.request<Loose>('GET', `${BASE}/policies`);
    expect(listed.body.policies.map((p: Loose) => p.scope)).toEqual(['account', 'group', 'runner']);

    expect((await owner.request('DELETE', `${BASE}/policies/runner/${runner.id}`)).status).toBe(
      200,
    );
    expect((await owner.request('DELETE', `${BASE}/policies/group/web`)).status).toBe(200);
    expect((await owner.request('DELETE', `${BASE}/policies/group/web`)).status).toBe(404);
    expect(await ask()).toMatchObject({ decision: 'allow', snapshot: { scope: 'account' } });
    expect((await policyEvents(accountId)).map((e) => e.event_type).slice(-2)).toEqual([
      'policy.deleted',
      'policy.deleted',
    ]);

    // A runner that is not ours, a bad group name.
    const missing = await owner.request(
      'PUT',
      `${BASE}/policies/runner/00000000-0000-4000-8000-000000000000`,
      { rules: rules() },
    );
    expect(missing.status).toBe(404);
    expect(
      (await owner.request('PUT', `${BASE}/policies/group/Bad%20Group`, { rules: rules() })).status,
    ).toBe(400);
    expect((await owner.request('GET', `${BASE}/policies/runner/not-an-id`)).status).toBe(404);
  });

  it('a runner scope takes the runner by its name as well as by its id', async () => {
    const { owner, base: BASE, runner } = shared;
    const byName = await owner.request<Loose>('PUT', `${BASE}/policies/runner/${runner.name}`, {
      rules: rules(),
    });
    expect(byName.status).toBe(200);
    expect(byName.body.policy).toMatchObject({ scope: 'runner', scope_ref: runner.id });
    const read = await owner.request<Loose>('GET', `${BASE}/policies/runner/${runner.name}`);
    expect(read.body.policy).toMatchObject({ scope_ref: runner.id });
    expect((await owner.request('DELETE', `${BASE}/policies/runner/${runner.name}`)).status).toBe(
      200,
    );
  });

  it('another tenant gets 404 for our runner scope and cannot read our policies', async () => {
    const { base: BASE, runner } = shared;
    const response = await outsider.request(
      'PUT',
      `/api/v1/accounts/pol-b/policies/runner/${runner.id}`,
      {
        rules: rules(),
      },
    );
    expect(response.status).toBe(404);
    expect((await outsider.request('GET', `${BASE}/policies`)).status).toBe(404);
    expect(
      (await outsider.request('PUT', `${BASE}/policies/account`, { rules: rules() })).status,
    ).toBe(404);
  });

  it('previews a candidate across the live catalog with shadowed and unmatched warnings', async () => {
    const { owner, base: BASE, runner } = shared;
    const candidate = rules({
      overrides: [
        { name: 'all linux', action: 'linux.*', decision: 'require_approval' },
        { name: 'uptime', action: 'linux.uptime', decision: 'allow' },
        { name: 'typo', action: 'lnux.uptime', decision: 'deny' },
      ],
    });
    const response = await owner.request<Loose>('POST', `${BASE}/policies/preview`, {
      rules: candidate,
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ valid: true, errors: [], catalog: 'live' });
    const byId = new Map(response.body.actions.map((a: Loose) => [a.action_id, a]));
    expect(byId.get('linux.uptime')).toEqual({
      action_id: 'linux.uptime',
      risk: 'low',
      decision: 'require_approval',
      matched_rule: 'override:all linux',
      current_decision: 'allow',
      changed: true,
    });
    expect(byId.get('linux.reboot')).toMatchObject({
      risk: 'critical',
      decision: 'require_approval',
    });
    const diagnostics = [...byId.values()].find((a) =>
      (a as Loose).action_id.startsWith('diagnostics.'),
    );
    expect(diagnostics).toMatchObject({ matched_rule: expect.stringMatching(/^default:/) });
    expect(response.body.warnings.map((w: Loose) => [w.kind, w.override])).toEqual([
      ['shadowed_override', 'uptime'],
      ['unmatched_override', 'typo'],
    ]);

    const invalid = await owner.request<Loose>('POST', `${BASE}/policies/preview`, {
      rules: rules({
        defaults: { low: 'deny', medium: 'allow', high: 'allow', critical: 'allow' },
      }),
    });
    expect(invalid.body.valid).toBe(false);
    expect(invalid.body.actions.every((a: Loose) => a.decision === 'deny')).toBe(true);

    const given = await owner.request<Loose>('POST', `${BASE}/policies/preview`, {
      rules: candidate,
      actions: [{ action_id: 'custom.thing', risk: 'high' }],
    });
    expect(given.body.catalog).toBe('given');
    expect(given.body.actions).toEqual([
      expect.objectContaining({ action_id: 'custom.thing', decision: 'require_approval' }),
    ]);

    const forRunner = await owner.request<Loose>('POST', `${BASE}/policies/preview`, {
      rules: candidate,
      scope: { kind: 'runner', ref: runner.id },
    });
    expect(forRunner.body.actions.length).toBe(response.body.actions.length);
    const otherGroup = await owner.request<Loose>('POST', `${BASE}/policies/preview`, {
      rules: candidate,
      scope: { kind: 'group', ref: 'empty-group' },
    });
    expect(otherGroup.body.actions).toEqual([]);
  });
});
