import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../accounts/queries.js';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { openTestStorage } from '../test-support/database.js';
import { setPlan } from './plans.js';

describe('plans', () => {
  let storage: Storage;
  const clock = new ManualClock('2026-04-01T08:00:00Z');
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  beforeAll(() =>
    storage.db.transaction().execute((trx) => createAccount(trx, { name: 'Alpha' }, clock)),
  );

  it('sets the plan and audits the change; unknown plans and accounts are refused', async () => {
    await expect(setPlan(storage.db, 'alpha', 'enterprise')).resolves.toEqual({
      from: 'free',
      to: 'enterprise',
    });
    await expect(setPlan(storage.db, 'alpha', 'gold')).rejects.toMatchObject({
      id: 'invalid_plan',
    });
    await expect(setPlan(storage.db, 'nope-nope', 'team')).rejects.toMatchObject({
      id: 'not_found',
    });
    const event = await storage.db
      .selectFrom('audit_events')
      .select(['payload', 'actor_kind'])
      .where('event_type', '=', 'account.plan_changed')
      .executeTakeFirstOrThrow();
    expect(event).toMatchObject({
      actor_kind: 'system',
      payload: { from: 'free', to: 'enterprise' },
    });
  });
});
