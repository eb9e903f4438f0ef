import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_RUNNER_ACCESS } from '../core/roles.js';
import { createApiKey } from '../credentials/api-keys.js';
import { insertMember } from '../test-support/accounts.js';
import { signInWithCode, signUpOwner, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { trustedRunner } from './test-support/fixtures.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in assertions.
type Loose = Record<string, any>;

const BASE = '/api/v1/accounts/thru-a';

/** The whole path through the runs domain's real routes, policy and RunRelease. */
describe(`approvals through the runs API (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let operator: Browser;
  let operatorMembershipId: string;
  let accountId: string;
  let runner: { id: string };

  beforeAll(async () => {
    h = await startTestApp();
    ({ browser: owner, accountId } = await signUpOwner(h, 'owner@thru-a.test', 'Thru A'));
    runner = await trustedRunner(h.db, h, accountId, 'web');
    const member = await insertMember(h.db, accountId, 'operator', {
      runnerAccess: FULL_RUNNER_ACCESS,
    });
    operatorMembershipId = member.membershipId;
    operator = await signInWithCode(h, member.email);
  });
  afterAll(() => h.close());

  const createRun = (who: Browser, unit: string) =>
    who.request<Loose>('POST', `${BASE}/runs`, {
      runner: runner.id,
      action_id: 'linux.systemctl_restart',
      args: { unit },
      reason: 'nginx is wedged after the config reload',
    });
  const approvalOf = async (runId: string) =>
    h.storage.db
      .selectFrom('approval_requests')
      .selectAll()
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();

  it('a high-risk run parks, a second member approves, the run becomes deliverable', async () => {
    const created = await createRun(operator, 'nginx');
    expect(created.status).toBe(201);
    const run = created.body;
    expect(run.status).toBe('pending_approval');
    const approval = await approvalOf(run.id);
    expect(approval).toMatchObject({
      status: 'pending',
      risk: 'high',
      action_id: 'linux.systemctl_restart',
    });

    const decided = await owner.request<Loose>(
      'POST',
      `${BASE}/approvals/${approval.id}/decisions`,
      { decision: 'approve' },
    );
    expect(decided.body.outcome).toBe('approved');
    const after = await h.storage.db
      .selectFrom('runs')
      .select(['status', 'status_reason'])
      .where('id', '=', run.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: 'pending', status_reason: null });
  });

  it('cancelling a pending-approval run through the runs API cancels its request', async () => {
    const created = await createRun(operator, 'redis');
    const run = created.body;
    expect(run.status).toBe('pending_approval');
    const cancelled = await operator.request('POST', `${BASE}/runs/${run.id}/cancel`, {});
    expect(cancelled.status).toBeLessThan(300);
    const approval = await approvalOf(run.id);
    expect(approval.status).toBe('cancelled');
    const late = await owner.request<Loose>('POST', `${BASE}/approvals/${approval.id}/decisions`, {
      decision: 'approve',
    });
    expect(late.status).toBe(409);
  });

  it('an MCP-key run while the agent stop switch is on is denied at creation', async () => {
    const key = await createApiKey(
      h.storage.db,
      {
        accountId,
        kind: 'mcp',
        membershipId: operatorMembershipId,
        name: 'agent',
        createdBy: null,
      },
      h.clock,
    );
    const stop = await owner.request('PUT', `${BASE}/settings/agent-stop`, { stopped: true });
    expect(stop.status).toBe(200);
    try {
      const response = await fetch(`${h.url}${BASE}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          runner: runner.id,
          action_id: 'linux.uptime',
          args: {},
          reason: 'an agent checking the load average',
        }),
      });
      const body = (await response.json()) as Loose;
      const run = body;
      expect(run).toMatchObject({ status: 'denied', status_reason: 'agents_stopped' });
      // A person's console run still follows policy.
      const byPerson = await operator.request<Loose>('POST', `${BASE}/runs`, {
        runner: runner.id,
        action_id: 'linux.uptime',
        args: {},
        reason: 'a person checking the load average',
      });
      expect(byPerson.body.status).toBe('pending');
    } finally {
      await owner.request('PUT', `${BASE}/settings/agent-stop`, { stopped: false });
    }
  });
});
