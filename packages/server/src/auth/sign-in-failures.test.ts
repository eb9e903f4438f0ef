import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountQueries } from '../accounts/queries.js';
import { systemContext } from '../core/context.js';
import { personAudit } from '../members/person-audit.js';
import { createWorkspace } from '../members/workspaces.js';
import { createDefaultPolicy } from '../policy/default-policy.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { auditSignInFailures, recordSignInFailure } from './sign-in-failures.js';

describe(`failed sign-ins reach the audit log through one queue (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let userId: string;
  beforeAll(async () => {
    h = await startTestApp();
    const { owner } = await seedWorkspace(h.storage.db, {
      email: 'twice@failures.test',
      name: 'First',
      clock: h.clock,
    });
    userId = owner.id;
    await h.storage.db
      .transaction()
      .execute((trx) =>
        createWorkspace(
          trx,
          { name: 'Second', owner },
          { clock: h.clock, accounts: accountQueries, createDefaultPolicy },
        ),
      );
  });
  afterAll(() => h.close());

  const failuresIn = async () =>
    h.storage.db
      .selectFrom('audit_events')
      .select(['account_id', 'payload', 'actor_label', 'ip_address', 'occurred_at'])
      .where('event_type', '=', 'user.sign_in_failed')
      .execute();

  it('writes a registered person’s failures to each of their workspaces, and drops the rest', async () => {
    // Only this test signs in with a password: the other one queues code failures.
    const passwordFailures = async () =>
      (await failuresIn()).filter((e) => (e.payload as { method?: string }).method === 'password');
    const asked = h.clock.now().toISOString();
    for (const email of ['twice@failures.test', 'nobody@failures.test']) {
      const response = await h
        .browser()
        .request('POST', '/api/v1/sign_in/password', { email, password: 'not the password' });
      expect(response.status).toBe(401);
    }
    // The sweep runs on its own schedule, a few seconds at most.
    await expect.poll(passwordFailures, { timeout: 30_000, interval: 250 }).toHaveLength(2);
    const events = await passwordFailures();
    expect(new Set(events.map((e) => e.account_id)).size).toBe(2);
    for (const event of events) {
      expect(event.payload).toEqual({ method: 'password', reason: 'wrong_password' });
      expect(event.actor_label).toBe('twice@failures.test');
      expect(event.ip_address).toBe('127.0.0.1');
      expect(new Date(event.occurred_at).getTime()).toBe(new Date(asked).getTime());
    }
    await expect
      .poll(() => h.storage.db.selectFrom('sign_in_failures').selectAll().execute(), {
        timeout: 30_000,
        interval: 250,
      })
      .toEqual([]);
    const all = await h.storage.db.selectFrom('audit_events').select('payload').execute();
    expect(JSON.stringify(all)).not.toContain('nobody@failures.test');
  });

  it('moves each queued failure once, however many sweeps run at the same time', async () => {
    await auditSignInFailures(h.storage.db, personAudit);
    const before = (await failuresIn()).length;
    await h.storage.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 450; i++) {
        const failure = {
          userId: i % 3 ? userId : null,
          method: 'code',
          reason: 'wrong_code',
        } as const;
        await recordSignInFailure(trx, { ...failure, context: systemContext('test') }, h.clock);
      }
    });
    const handled = await Promise.all(
      [1, 2, 3].map(() => auditSignInFailures(h.storage.db, personAudit)),
    );
    expect(handled.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(450);
    await auditSignInFailures(h.storage.db, personAudit);
    // 300 failures of the registered person, each in both workspaces.
    expect((await failuresIn()).length - before).toBe(600);
  });
});
