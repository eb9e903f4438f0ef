import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountQueries } from '../accounts/queries.js';
import { findOrCreateUser } from '../auth/users.js';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { createDefaultPolicy, DEFAULT_POLICY_RULES } from '../policy/default-policy.js';
import { openTestStorage } from '../test-support/database.js';
import { createWorkspace } from './workspaces.js';

describe('creating workspaces', () => {
  let storage: Storage;
  const clock = new ManualClock('2026-04-01T08:00:00Z');
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  const create = (email: string, name: string, slug?: string) =>
    storage.db.transaction().execute(async (trx) => {
      const { user } = await findOrCreateUser(trx, email, null);
      return createWorkspace(
        trx,
        { name, owner: user, ...(slug ? { slug } : {}) },
        { clock, accounts: accountQueries, createDefaultPolicy },
      );
    });

  it('gives a new account the Free plan, an owner with full reach and the default policy', async () => {
    const { account, ownerMembershipId } = await create('a@example.test', 'Alpha');
    expect(account).toMatchObject({
      slug: 'alpha',
      plan: 'free',
      settings: { require_mfa: false },
    });
    const membership = await storage.db
      .selectFrom('memberships')
      .selectAll()
      .where('id', '=', ownerMembershipId)
      .executeTakeFirstOrThrow();
    expect(membership).toMatchObject({
      role: 'owner',
      runner_access: { mode: 'all' },
      pack_access: { mode: 'all' },
    });
    expect(membership.accepted_at).not.toBeNull();
    const policies = await storage.db
      .selectFrom('policies')
      .selectAll()
      .where('account_id', '=', account.id)
      .execute();
    expect(policies).toHaveLength(1);
    expect(policies[0]).toMatchObject({
      scope: 'account',
      scope_ref: '',
      vsn: 1,
      deleted_at: null,
    });
    expect(policies[0]!.rules).toEqual({
      defaults: { low: 'allow', medium: 'allow', high: 'require_approval', critical: 'deny' },
      overrides: [],
      approval: { min_approvals: 1, allow_self_approval: true },
    });
    expect(policies[0]!.rules).toEqual(DEFAULT_POLICY_RULES);
    const events = await storage.db
      .selectFrom('audit_events')
      .select(['event_type', 'actor_id'])
      .where('account_id', '=', account.id)
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.event_type)).toEqual(['account.created', 'membership.created']);
  });

  it('finds a free slug for a taken name, refuses a taken or reserved explicit slug', async () => {
    const first = await create('b1@example.test', 'Bravo');
    expect(first.account.slug).toBe('bravo');
    const second = await create('b2@example.test', 'Bravo');
    expect(second.account.slug).toMatch(/^bravo-[0-9a-f]{6}$/);
    await expect(create('c@example.test', 'Other', 'bravo')).rejects.toMatchObject({
      id: 'slug_taken',
    });
    await expect(create('c@example.test', 'Other', 'oauth')).rejects.toMatchObject({
      id: 'invalid_slug',
    });
  });

  it('rolls back with its transaction: no account, membership, policy or audit event remains', async () => {
    await storage.db
      .transaction()
      .execute(async (trx) => {
        const { user } = await findOrCreateUser(trx, 'rollback@example.test', null);
        await createWorkspace(
          trx,
          { name: 'Rolled Back', owner: user },
          { clock, accounts: accountQueries, createDefaultPolicy },
        );
        throw new Error('the cause failed');
      })
      .catch(() => {});
    const account = await storage.db
      .selectFrom('accounts')
      .select('id')
      .where('slug', '=', 'rolled-back')
      .executeTakeFirst();
    expect(account).toBeUndefined();
    const users = await storage.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'rollback@example.test')
      .execute();
    expect(users).toEqual([]);
  });
});
