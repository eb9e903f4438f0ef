import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../db/database.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { onPostgres, openTestStorage } from '../test-support/database.js';
import { decidePolicy, type PolicyQuestion } from './decide.js';
import { DEFAULT_POLICY_RULES } from './default-policy.js';
import type { PolicyRules } from './rules.js';

const RUNNER = { id: '00000000-0000-4000-8000-000000000001', group: 'web' };

describe(`decidePolicy (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let storage: Storage;
  let accountId: string;
  let otherAccountId: string;

  beforeAll(async () => {
    storage = await openTestStorage();
    accountId = (await seedWorkspace(storage.db)).account.id;
    otherAccountId = (await seedWorkspace(storage.db)).account.id;
  });
  afterAll(() => storage.close());

  const ask = (patch: Partial<PolicyQuestion> = {}) =>
    decidePolicy(storage.db, {
      accountId,
      runner: RUNNER,
      actionId: 'linux.uptime',
      risk: 'low',
      viaAgent: false,
      ...patch,
    });

  const setPolicy = async (
    scope: 'group' | 'runner',
    scopeRef: string,
    rules: unknown,
    account = accountId,
  ) => {
    await storage.db
      .insertInto('policies')
      .values({ account_id: account, scope, scope_ref: scopeRef, rules: JSON.stringify(rules) })
      .execute();
  };
  const dropScoped = () =>
    storage.db.deleteFrom('policies').where('scope', '!=', 'account').execute();

  const strictRules = (patch: Partial<PolicyRules> = {}): PolicyRules => ({
    defaults: { low: 'require_approval', medium: 'deny', high: 'deny', critical: 'deny' },
    overrides: [],
    approval: { min_approvals: 2, allow_self_approval: false },
    ...patch,
  });

  it('applies the default account policy every account gets', async () => {
    const accountPolicy = await storage.db
      .selectFrom('policies')
      .select(['id', 'vsn'])
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(await ask({ risk: 'low' })).toEqual({
      decision: 'allow',
      statusReason: null,
      snapshot: {
        policy_id: accountPolicy.id,
        scope: 'account',
        vsn: accountPolicy.vsn,
        decision: 'allow',
        matched_rule: 'default:low',
        reason: 'default',
      },
      approval: { min_approvals: 1, allow_self_approval: true },
    });
    expect((await ask({ risk: 'medium' })).decision).toBe('allow');
    expect((await ask({ risk: 'high' })).decision).toBe('require_approval');
    expect(await ask({ risk: 'critical' })).toMatchObject({
      decision: 'deny',
      statusReason: 'policy_denied',
    });
  });

  it('a group policy replaces the account policy for runners of that group only', async () => {
    await setPolicy('group', 'web', strictRules());
    try {
      expect(await ask({ risk: 'low' })).toMatchObject({
        decision: 'require_approval',
        snapshot: { scope: 'group', matched_rule: 'default:low' },
        approval: { min_approvals: 2, allow_self_approval: false },
      });
      // Not merged: medium is allowed by the account default, denied by the group.
      expect((await ask({ risk: 'medium' })).decision).toBe('deny');
      const otherGroup = await ask({ runner: { id: RUNNER.id.replace(/1$/, '2'), group: 'db' } });
      expect(otherGroup.snapshot.scope).toBe('account');
    } finally {
      await dropScoped();
    }
  });

  it('a runner policy wins over its group and the account', async () => {
    await setPolicy('group', 'web', strictRules());
    await setPolicy(
      'runner',
      RUNNER.id,
      strictRules({
        defaults: { low: 'allow', medium: 'allow', high: 'allow', critical: 'allow' },
      }),
    );
    try {
      expect(await ask({ risk: 'critical' })).toMatchObject({
        decision: 'allow',
        snapshot: { scope: 'runner' },
      });
    } finally {
      await dropScoped();
    }
  });

  it('a soft-deleted scoped policy no longer applies', async () => {
    await setPolicy('runner', RUNNER.id, strictRules());
    await storage.db
      .updateTable('policies')
      .set({ deleted_at: new Date().toISOString() })
      .where('scope', '=', 'runner')
      .execute();
    try {
      expect((await ask()).snapshot.scope).toBe('account');
    } finally {
      await dropScoped();
    }
  });

  it('overrides: first match wins, case-insensitive globs', async () => {
    await setPolicy(
      'runner',
      RUNNER.id,
      strictRules({
        overrides: [
          { name: 'deny restarts', action: '*.RESTART', decision: 'deny' },
          { name: 'linux ok', action: 'linux.*', decision: 'allow' },
        ],
      }),
    );
    try {
      expect(await ask({ actionId: 'linux.uptime', risk: 'high' })).toMatchObject({
        decision: 'allow',
        snapshot: { matched_rule: 'override:linux ok', reason: 'override' },
      });
      expect(await ask({ actionId: 'linux.restart', risk: 'low' })).toMatchObject({
        decision: 'deny',
        statusReason: 'policy_denied',
        snapshot: { matched_rule: 'override:deny restarts' },
      });
    } finally {
      await dropScoped();
    }
  });

  it('denies an unknown tier, an unreadable policy, and an account without a policy', async () => {
    expect(await ask({ risk: 'extreme' })).toMatchObject({
      decision: 'deny',
      statusReason: 'policy_denied',
      snapshot: { reason: 'unknown_risk' },
    });
    await setPolicy('runner', RUNNER.id, {
      ...DEFAULT_POLICY_RULES,
      defaults: { ...DEFAULT_POLICY_RULES.defaults, low: 'yes please' },
    });
    try {
      expect(await ask({ risk: 'low' })).toMatchObject({
        decision: 'deny',
        snapshot: { scope: 'runner', reason: 'invalid_rules' },
        approval: { min_approvals: 1, allow_self_approval: true },
      });
    } finally {
      await dropScoped();
    }
    const bare = (await seedWorkspace(storage.db)).account.id;
    await storage.db.deleteFrom('policies').where('account_id', '=', bare).execute();
    expect(await ask({ accountId: bare })).toEqual({
      decision: 'deny',
      statusReason: 'policy_denied',
      snapshot: {
        policy_id: null,
        scope: null,
        vsn: null,
        decision: 'deny',
        matched_rule: null,
        reason: 'no_policy',
      },
      approval: { min_approvals: 1, allow_self_approval: false },
    });
  });

  it('never reads another account’s policies', async () => {
    await setPolicy(
      'runner',
      RUNNER.id,
      strictRules({ defaults: { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' } }),
      otherAccountId,
    );
    try {
      expect(await ask({ risk: 'low' })).toMatchObject({
        decision: 'allow',
        snapshot: { scope: 'account' },
      });
    } finally {
      await dropScoped();
    }
  });

  it('the stop switch denies agent runs only, whatever the policy says', async () => {
    await storage.db
      .updateTable('accounts')
      .set({ agents_stopped_at: new Date().toISOString() })
      .where('id', '=', accountId)
      .execute();
    try {
      expect(await ask({ viaAgent: true, risk: 'low' })).toMatchObject({
        decision: 'deny',
        statusReason: 'agents_stopped',
        snapshot: { scope: 'account', decision: 'deny', reason: 'agents_stopped' },
      });
      expect((await ask({ viaAgent: false, risk: 'low' })).decision).toBe('allow');
      // Another account's agents are unaffected.
      expect((await ask({ accountId: otherAccountId, viaAgent: true })).decision).toBe('allow');
    } finally {
      await storage.db
        .updateTable('accounts')
        .set({ agents_stopped_at: null })
        .where('id', '=', accountId)
        .execute();
    }
    expect((await ask({ viaAgent: true })).decision).toBe('allow');
  });
});
