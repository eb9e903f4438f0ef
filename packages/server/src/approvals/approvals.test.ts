import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeAccountEvents } from '../bus/account-events.js';
import type { RunnerAccess } from '../core/roles.js';
import { createApiKey } from '../credentials/api-keys.js';
import { RUNNER_WORK_CHANNEL } from '../fleet/runner-work.js';
import { decidePolicy } from '../policy/decide.js';
import { argsAtRest } from '../runs/args.js';
import { createRunRelease } from '../runs/release.js';
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
import { signInCodeFrom } from '../test-support/smtp-sink.js';
import { type ApprovalService, createApprovalService } from './service.js';
import {
  approvalDataDeps,
  parkedRun,
  RecordingRunRelease,
  trustedRunner,
} from './test-support/fixtures.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in assertions.
type Loose = Record<string, any>;

const TTL_MS = 60 * 60_000;
const HIGH = 'linux.systemctl_restart';

interface Person {
  userId: string;
  membershipId: string;
  email: string;
  browser: Browser;
}

describe(`approvals (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let approvals: ApprovalService;
  let accountId: string;
  let runner: { id: string; name: string; group: string };
  let owner: Person;
  let alice: Person; // operator, the usual requester
  let bob: Person; // operator, a decider
  let carol: Person; // operator whose reach excludes the runner's group
  let viewer: Person;
  let outsider: Browser;
  const workRequests: string[] = [];

  const decisions = (who: Person, id: string, body: unknown) =>
    who.browser.request<Loose>('POST', `/api/v1/accounts/appr-a/approvals/${id}/decisions`, body);
  const runOf = (runId: string) =>
    h.storage.db
      .selectFrom('runs')
      .select(['status', 'status_reason'])
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
  const requestOf = (id: string) =>
    h.storage.db
      .selectFrom('approval_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const auditTypes = async () =>
    (
      await h.storage.db
        .selectFrom('audit_events')
        .select('event_type')
        .where('account_id', '=', accountId)
        .where('event_type', 'like', 'approval.%')
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);

  async function person(role: 'operator' | 'viewer', runnerAccess: RunnerAccess): Promise<Person> {
    const member = await insertMember(h.db, accountId, role, { runnerAccess });
    return { ...member, browser: await signInWithCode(h, member.email) };
  }

  /** Signs in again by emailed code, passing over the approval mail in between. */
  async function freshSignIn(email: string): Promise<Browser> {
    const browser = h.browser();
    await browser.request('POST', '/api/v1/sign_in/code/request', { email });
    await h.app.mailOutbox.deliverDue();
    const mail = await h.smtp.next(email, 'sign-in code is');
    const code = signInCodeFrom(mail.text ?? '', h.config.baseUrl);
    const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
    expect(signedIn.status).toBe(200);
    return browser;
  }

  /** Parks a run and opens its request, as the runs domain does, in one transaction. */
  async function park(
    options: {
      by?: Person;
      minApprovals?: number;
      allowSelf?: boolean;
      apiKeyId?: string | null;
      args?: Record<string, string>;
      actionId?: string;
    } = {},
  ) {
    const by = options.by ?? alice;
    const argsText = JSON.stringify(options.args ?? { unit: 'nginx' });
    const run = await parkedRun(h.storage.db, h.config.secretKey, {
      accountId,
      runnerId: runner.id,
      actionId: options.actionId ?? HIGH,
      userId: by.userId,
      membershipId: by.membershipId,
      apiKeyId: options.apiKeyId ?? null,
      argsText,
    });
    const opened = await h.storage.db.transaction().execute((trx) =>
      approvals.openApprovalRequest(trx, {
        accountId,
        runId: run.runId,
        requestedByUserId: by.userId,
        apiKeyId: options.apiKeyId ?? null,
        reason: 'nginx is wedged after the config reload',
        evidence: 'curl localhost returns 502 for five minutes',
        expected: 'nginx answers 200 again',
        context: {
          runnerId: runner.id,
          actionId: options.actionId ?? HIGH,
          argsSha256: run.argsSha256,
          packRef: run.contract.packRef,
        },
        approval: {
          min_approvals: options.minApprovals ?? 1,
          allow_self_approval: options.allowSelf ?? false,
        },
      }),
    );
    return { ...run, id: opened.id, expiresAt: opened.expiresAt };
  }

  beforeAll(async () => {
    h = await startTestApp();
    const { bus } = h;
    await bus.subscribe(RUNNER_WORK_CHANNEL, (payload) => workRequests.push(payload));
    const signedUp = await signUpOwner(h, 'owner@appr-a.test', 'Appr A');
    accountId = signedUp.accountId;
    owner = { ...signedUp, email: 'owner@appr-a.test' };
    runner = await trustedRunner(h.db, h, accountId, 'web');
    alice = await person('operator', { mode: 'all' });
    bob = await person('operator', { mode: 'all' });
    carol = await person('operator', { mode: 'restricted', groups: ['db'], runner_ids: [] });
    viewer = await person('viewer', { mode: 'all' });
    outsider = await signUp(h, 'owner@appr-b.test', 'Appr B');
    approvals = createApprovalService({
      db: h.storage.db,
      clock: h.clock,
      bus: h.bus,
      outbox: h.app.mailOutbox,
      baseUrl: h.config.baseUrl,
      runRelease: createRunRelease(h),
      approvalTtlMs: TTL_MS,
      ...approvalDataDeps,
    });
  });
  afterAll(() => h.close());

  it('opens a request that emails every member who could decide, except the requester, with sensitive values masked', async () => {
    const args = { unit: 'nginx', token: 's3cr3t-token-value' };
    const run = await parkedRun(h.storage.db, h.config.secretKey, {
      accountId,
      runnerId: runner.id,
      actionId: HIGH,
      userId: alice.userId,
      membershipId: alice.membershipId,
      argsText: JSON.stringify(args),
    });
    const approvalMail = () =>
      h.db
        .selectFrom('mail_outbox')
        .select(['id', 'to_address'])
        .where('account_id', '=', accountId)
        .where('template', '=', 'approval_needed')
        .execute();
    const earlier = new Set((await approvalMail()).map((m) => m.id));
    const redacted = argsAtRest(args, [{ name: 'token', sensitive: true } as never]).redacted;
    expect(redacted).not.toContain('s3cr3t');
    const opened = await h.storage.db.transaction().execute((trx) =>
      approvals.openApprovalRequest(trx, {
        accountId,
        runId: run.runId,
        requestedByUserId: alice.userId,
        apiKeyId: null,
        reason: 'nginx is wedged after the config reload',
        evidence: null,
        expected: null,
        context: {
          runnerId: runner.id,
          actionId: HIGH,
          argsSha256: run.argsSha256,
          packRef: run.contract.packRef,
        },
        approval: { min_approvals: 1, allow_self_approval: false },
        argsRedacted: redacted,
      }),
    );
    expect(new Date(opened.expiresAt).getTime() - h.clock.now().getTime()).toBe(TTL_MS);
    const queued = await approvalMail();
    const recipients = queued
      .filter((m) => !earlier.has(m.id))
      .map((m) => m.to_address)
      .sort();
    expect(recipients).toEqual([bob.email, owner.email].sort());

    await h.app.mailOutbox.deliverDue();
    const mail = await h.smtp.next(bob.email, opened.id);
    expect(mail.subject).toBe(`Approval needed: ${HIGH} on ${runner.name}`);
    const text = mail.text ?? '';
    expect(text).toContain(`${h.config.baseUrl}/app/appr-a/approvals/${opened.id}`);
    expect(text).toContain('"unit":"nginx"');
    expect(text).toContain('nginx is wedged after the config reload');
    expect(text).not.toContain('s3cr3t-token-value');
    expect(text).not.toMatch(/approve\?|one-click/i);
    await h.smtp.next(owner.email, opened.id);

    const request = await requestOf(opened.id);
    expect(request).toMatchObject({
      status: 'pending',
      run_id: run.runId,
      runner_group: 'web',
      pack_id: 'linux',
      risk: 'high',
    });
    expect(await auditTypes()).toContain('approval.requested');
  });

  it('refuses approving one’s own request when the policy does not allow it, through the API', async () => {
    const { id, runId } = await park({ by: bob, allowSelf: false });
    const response = await decisions(bob, id, { decision: 'approve' });
    expect(response.status).toBe(403);
    expect(response.body.error.id).toBe('self_approval_not_allowed');
    expect(await requestOf(id)).toMatchObject({ status: 'pending' });
    expect((await runOf(runId)).status).toBe('pending_approval');
    const votes = await h.storage.db
      .selectFrom('approval_decisions')
      .select('id')
      .where('request_id', '=', id)
      .execute();
    expect(votes).toEqual([]);
    // Someone else may approve it.
    expect((await decisions(alice, id, { decision: 'approve' })).body.outcome).toBe('approved');
  });

  it('allows self-approval when the policy allows it', async () => {
    const { id, runId } = await park({ by: bob, allowSelf: true });
    const response = await decisions(bob, id, { decision: 'approve' });
    expect(response.status).toBe(200);
    expect(response.body.outcome).toBe('approved');
    expect(await runOf(runId)).toEqual({ status: 'pending', status_reason: null });
  });

  it('with min_approvals=2 one approval is not enough, a second vote by the same approver counts once, a second approver releases it', async () => {
    const { id, runId } = await park({ minApprovals: 2 });
    const first = await decisions(bob, id, { decision: 'approve', note: 'looks right' });
    expect(first.status).toBe(200);
    expect(first.body.outcome).toBe('pending');
    expect(first.body.approval.approvals).toBe(1);
    expect((await runOf(runId)).status).toBe('pending_approval');

    const again = await decisions(bob, id, { decision: 'approve' });
    expect(again.status).toBe(409);
    expect(again.body.error.id).toBe('already_voted');
    expect((await runOf(runId)).status).toBe('pending_approval');
    expect((await requestOf(id)).status).toBe('pending');

    const before = workRequests.length;
    const second = await decisions(owner, id, { decision: 'approve' });
    expect(second.body.outcome).toBe('approved');
    expect(second.body.approval).toMatchObject({ status: 'approved', approvals: 2 });
    expect(await runOf(runId)).toEqual({ status: 'pending', status_reason: null });
    await expect.poll(() => workRequests.slice(before)).toContain(runner.id);
    expect(await auditTypes()).toEqual(
      expect.arrayContaining(['approval.voted', 'approval.approved']),
    );

    await h.app.mailOutbox.deliverDue();
    const outcome = await h.smtp.next(alice.email, `approvals/${id}`);
    expect(outcome.subject).toMatch(/^Request approved/);
    expect(outcome.text).toContain('was approved');
    expect(outcome.text).not.toContain('nginx"');
  });

  it('one deny ends it: the run is denied approval_denied and later votes are refused', async () => {
    const { id, runId } = await park({ minApprovals: 2 });
    expect((await decisions(bob, id, { decision: 'approve' })).body.outcome).toBe('pending');
    const denied = await decisions(owner, id, { decision: 'deny', note: 'not during peak' });
    expect(denied.body.outcome).toBe('denied');
    expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'approval_denied' });
    expect(await requestOf(id)).toMatchObject({
      status: 'denied',
      decided_by_user_id: owner.userId,
      decision_note: 'not during peak',
    });
    expect((await decisions(bob, id, { decision: 'approve' })).status).toBe(409);
    const other = await decisions(alice, id, { decision: 'approve' });
    expect(other.status).toBe(409);
    expect(other.body.error.id).toBe('approval_closed');
  });

  it('refuses an approval after expiry and denies the run approval_expired', async () => {
    const { id, runId } = await park();
    h.clock.advance(TTL_MS + 1000);
    try {
      // Deciding a high-risk request needs a fresh sign-in; the clock moved an hour.
      bob.browser = await freshSignIn(bob.email);
      const late = await decisions(bob, id, { decision: 'approve' });
      expect(late.status).toBe(409);
      expect(late.body.error.id).toBe('approval_expired');
      expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'approval_expired' });
      expect((await requestOf(id)).status).toBe('expired');
    } finally {
      h.clock.advance(-(TTL_MS + 1000));
    }
  });

  it('the expiry sweep expires overdue requests once', async () => {
    const overdue = await park();
    h.clock.advance(TTL_MS / 2);
    const fresh = await park();
    h.clock.advance(TTL_MS / 2 + 1000);
    try {
      expect(await approvals.expireDue()).toBeGreaterThanOrEqual(1);
      expect((await requestOf(overdue.id)).status).toBe('expired');
      expect(await runOf(overdue.runId)).toEqual({
        status: 'denied',
        status_reason: 'approval_expired',
      });
      expect((await requestOf(fresh.id)).status).toBe('pending');
      expect(await approvals.expireDue()).toBe(0);
    } finally {
      h.clock.advance(-(TTL_MS + 1000));
    }
    await decisions(owner, fresh.id, { decision: 'deny' });
  });

  it('needs a sign-in within 15 minutes to decide a high-risk request (reauth_required)', async () => {
    bob.browser = await freshSignIn(bob.email);
    const { id, runId } = await park();
    h.clock.advance(16 * 60_000);
    try {
      const stale = await decisions(bob, id, { decision: 'approve' });
      expect(stale.status).toBe(403);
      expect(stale.body.error.id).toBe('reauth_required');
      expect((await runOf(runId)).status).toBe('pending_approval');
      bob.browser = await freshSignIn(bob.email);
      expect((await decisions(bob, id, { decision: 'approve' })).body.outcome).toBe('approved');
    } finally {
      h.clock.advance(-16 * 60_000);
    }
  });

  it('deciders out of reach, viewers and API keys neither see nor decide; the requester sees their own', async () => {
    const { id, runId } = await park();
    const path = `/api/v1/accounts/appr-a/approvals/${id}`;
    expect((await carol.browser.request('GET', path)).status).toBe(404);
    expect((await decisions(carol, id, { decision: 'approve' })).status).toBe(404);
    expect((await viewer.browser.request('GET', path)).status).toBe(404);
    expect((await decisions(viewer, id, { decision: 'approve' })).status).toBe(403);
    const list = (who: Person) =>
      who.browser.request<{ approvals: { id: string }[] }>(
        'GET',
        '/api/v1/accounts/appr-a/approvals?status=pending',
      );
    expect((await list(carol)).body.approvals.map((a) => a.id)).not.toContain(id);
    expect((await list(bob)).body.approvals.map((a) => a.id)).toContain(id);
    const mine = await alice.browser.request<{ approval: { can_decide: boolean } }>('GET', path);
    expect(mine.status).toBe(200);
    expect(mine.body.approval.can_decide).toBe(false);

    const key = await createApiKey(
      h.storage.db,
      {
        accountId,
        kind: 'mcp',
        membershipId: bob.membershipId,
        name: 'agent',
        createdBy: null,
      },
      h.clock,
    );
    const byKey = await fetch(`${h.url}${path}/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(byKey.status).toBe(403);
    expect((await runOf(runId)).status).toBe('pending_approval');
    await decisions(owner, id, { decision: 'deny' });
  });

  it('judges reach on the runner’s current group: moved into a decider’s group, they may decide', async () => {
    const { id } = await park();
    expect((await decisions(carol, id, { decision: 'deny' })).status).toBe(404);
    await h.storage.db
      .updateTable('runners')
      .set({ group_name: 'db' })
      .where('id', '=', runner.id)
      .execute();
    try {
      const denied = await decisions(carol, id, { decision: 'deny' });
      expect(denied.status).toBe(200);
      expect(denied.body.outcome).toBe('denied');
      expect((await requestOf(id)).runner_group).toBe('db');
    } finally {
      await h.storage.db
        .updateTable('runners')
        .set({ group_name: 'web' })
        .where('id', '=', runner.id)
        .execute();
    }
  });

  it('answers 404 to another tenant, by its own slug and by ours', async () => {
    const { id } = await park();
    expect((await outsider.request('GET', `/api/v1/accounts/appr-b/approvals/${id}`)).status).toBe(
      404,
    );
    expect(
      (
        await outsider.request('POST', `/api/v1/accounts/appr-b/approvals/${id}/decisions`, {
          decision: 'approve',
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await outsider.request('POST', `/api/v1/accounts/appr-a/approvals/${id}/decisions`, {
          decision: 'approve',
        })
      ).status,
    ).toBe(404);
    expect((await requestOf(id)).status).toBe('pending');
    await decisions(owner, id, { decision: 'deny' });
  });

  it('cancelling a pending-approval run cancels its request', async () => {
    const { id } = await park();
    const unrelated = await h.storage.db
      .transaction()
      .execute((trx) => approvals.cancelApprovalForRun(trx, randomUUID()));
    expect(unrelated).toBe(false);
    const request = await requestOf(id);
    expect(
      await h.storage.db
        .transaction()
        .execute((trx) => approvals.cancelApprovalForRun(trx, request.run_id)),
    ).toBe(true);
    expect((await requestOf(id)).status).toBe('cancelled');
    expect((await decisions(bob, id, { decision: 'approve' })).status).toBe(409);
    expect(await auditTypes()).toContain('approval.cancelled');
  });

  it('re-checks the current policy at release: approved after the policy turned the action to deny → denied', async () => {
    const { id, runId } = await park();
    const current = await owner.browser.request<Loose>(
      'GET',
      '/api/v1/accounts/appr-a/policies/account',
    );
    const rules = current.body.policy.rules;
    const put = await owner.browser.request('PUT', '/api/v1/accounts/appr-a/policies/account', {
      rules: {
        ...rules,
        overrides: [{ name: 'no restarts', action: '*.systemctl_restart', decision: 'deny' }],
      },
    });
    expect(put.status).toBe(200);
    try {
      const response = await decisions(bob, id, { decision: 'approve' });
      expect(response.body).toMatchObject({ outcome: 'refused', status_reason: 'policy_denied' });
      expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'policy_denied' });
      expect(await requestOf(id)).toMatchObject({
        status: 'denied',
        status_reason: 'policy_denied',
      });
      expect(await auditTypes()).toContain('approval.refused');
    } finally {
      await owner.browser.request('PUT', '/api/v1/accounts/appr-a/policies/account', { rules });
    }
  });

  it('standing grants: created on approval for API-key runs, consumed per use, capped, revoked by owners', async () => {
    const key = await createApiKey(
      h.storage.db,
      { accountId, kind: 'mcp', membershipId: alice.membershipId, name: 'bot', createdBy: null },
      h.clock,
    );
    const { id, argsSha256, contract } = await park({ apiKeyId: key.id });
    const approved = await decisions(bob, id, {
      decision: 'approve',
      grant: { duration: '24h', scope: 'exact_args', max_uses: 2 },
    });
    expect(approved.body.outcome).toBe('approved');
    const grantId = approved.body.grant_id as string;
    expect(grantId).toMatch(/^[0-9a-f-]{36}$/);
    const match = {
      accountId,
      apiKeyLineageId: key.lineageId,
      actionId: HIGH,
      packRef: contract.packRef,
      runnerId: runner.id,
      argsSha256,
    };
    const take = (m = match) =>
      h.storage.db.transaction().execute((trx) => approvals.takeStandingGrant(trx, m));
    expect(await take({ ...match, argsSha256: 'f'.repeat(64) })).toBeNull();
    expect(await take({ ...match, actionId: 'linux.reboot' })).toBeNull();
    expect(await take()).toBe(grantId);
    expect(await take()).toBe(grantId);
    expect(await take()).toBeNull(); // max_uses reached

    const grant = await owner.browser.request<Loose>(
      'GET',
      `/api/v1/accounts/appr-a/grants/${grantId}`,
    );
    expect(grant.body.grant).toMatchObject({
      uses: 2,
      max_uses: 2,
      scope: 'exact_args',
      live: false,
    });

    // A grant for any arguments; revoked by the owner, not by an operator.
    const second = await park({ apiKeyId: key.id });
    const anyArgs = await decisions(bob, second.id, {
      decision: 'approve',
      grant: { duration: '1h', scope: 'any_args' },
    });
    const anyGrant = anyArgs.body.grant_id as string;
    expect(await take({ ...match, argsSha256: 'e'.repeat(64) })).toBe(anyGrant);
    const byOperator = await bob.browser.request(
      'DELETE',
      `/api/v1/accounts/appr-a/grants/${anyGrant}`,
    );
    expect(byOperator.status).toBe(403);
    const revoked = await owner.browser.request<Loose>(
      'DELETE',
      `/api/v1/accounts/appr-a/grants/${anyGrant}`,
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body.grant.live).toBe(false);
    expect(await take({ ...match, argsSha256: 'e'.repeat(64) })).toBeNull();
    expect(await auditTypes()).toEqual(
      expect.arrayContaining(['approval.grant_created', 'approval.grant_revoked']),
    );

    // The account cap: 0 turns grants off; a lower cap shortens them.
    await h.storage.db
      .updateTable('accounts')
      .set({
        settings: JSON.stringify({
          require_mfa: false,
          max_grant_lifetime_seconds: 0,
          runner_inactive_retention_hours: null,
          pack_unseen_retention_days: null,
        }),
      })
      .where('id', '=', accountId)
      .execute();
    const third = await park({ apiKeyId: key.id });
    const off = await decisions(bob, third.id, {
      decision: 'approve',
      grant: { duration: '30d', scope: 'any_args' },
    });
    expect(off.status).toBe(400);
    expect(off.body.error.id).toBe('grants_disabled');
    expect((await requestOf(third.id)).status).toBe('pending');
    await h.storage.db
      .updateTable('accounts')
      .set({
        settings: JSON.stringify({
          require_mfa: false,
          max_grant_lifetime_seconds: 600,
          runner_inactive_retention_hours: null,
          pack_unseen_retention_days: null,
        }),
      })
      .where('id', '=', accountId)
      .execute();
    const capped = await decisions(bob, third.id, {
      decision: 'approve',
      grant: { duration: '30d', scope: 'any_args' },
    });
    const cappedGrant = await h.storage.db
      .selectFrom('standing_grants')
      .select('expires_at')
      .where('id', '=', capped.body.grant_id)
      .executeTakeFirstOrThrow();
    expect(new Date(cappedGrant.expires_at).getTime() - h.clock.now().getTime()).toBe(600_000);

    // Operator-console runs never get grants.
    const operatorRun = await park();
    const refused = await decisions(bob, operatorRun.id, {
      decision: 'approve',
      grant: { duration: '1h', scope: 'any_args' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.id).toBe('grant_not_applicable');
    await decisions(bob, operatorRun.id, { decision: 'deny' });
  });

  it('an MCP-key run while the agent stop switch is on is denied by decidePolicy; console runs are not', async () => {
    const stop = await owner.browser.request('PUT', '/api/v1/accounts/appr-a/settings/agent-stop', {
      stopped: true,
    });
    expect(stop.status).toBe(200);
    const ask = (viaAgent: boolean) =>
      decidePolicy(h.storage.db, {
        accountId,
        runner,
        actionId: 'linux.uptime',
        risk: 'low',
        viaAgent,
      });
    try {
      expect(await ask(true)).toMatchObject({ decision: 'deny', statusReason: 'agents_stopped' });
      expect((await ask(false)).decision).toBe('allow');
      // A parked API-key run approved while agents are stopped is refused at release.
      const key = await createApiKey(
        h.storage.db,
        { accountId, kind: 'mcp', membershipId: alice.membershipId, name: 'bot2', createdBy: null },
        h.clock,
      );
      const { id, runId } = await park({ apiKeyId: key.id });
      expect((await decisions(bob, id, { decision: 'approve' })).body.status_reason).toBe(
        'agents_stopped',
      );
      expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'agents_stopped' });
    } finally {
      const resume = await owner.browser.request(
        'PUT',
        '/api/v1/accounts/appr-a/settings/agent-stop',
        { stopped: false },
      );
      expect(resume.status).toBe(200);
    }
    expect((await ask(true)).decision).toBe('allow');
    const events = (
      await h.storage.db
        .selectFrom('audit_events')
        .select('event_type')
        .where('account_id', '=', accountId)
        .where('event_type', 'like', 'account.agents_%')
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);
    expect(events).toEqual(['account.agents_stopped', 'account.agents_resumed']);
    const byOperator = await bob.browser.request(
      'PUT',
      '/api/v1/accounts/appr-a/settings/agent-stop',
      {
        stopped: true,
      },
    );
    expect(byOperator.status).toBe(403);
  });

  it('re-checks the initiator: a request whose member was suspended is refused at release', async () => {
    const dave = await person('operator', { mode: 'all' });
    const { id, runId } = await park({ by: dave });
    await h.storage.db
      .updateTable('memberships')
      .set({ suspended_at: h.clock.now().toISOString() })
      .where('id', '=', dave.membershipId)
      .execute();
    const response = await decisions(bob, id, { decision: 'approve' });
    expect(response.body).toMatchObject({ outcome: 'refused', status_reason: 'initiator_revoked' });
    expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'initiator_revoked' });
  });

  it('re-checks pack trust at release: a revoked trust refuses the approval (pack_untrusted)', async () => {
    const { id, runId } = await park({ actionId: 'linux.reboot' });
    const trusted = await h.storage.db
      .selectFrom('pack_versions')
      .select(['id', 'trusted_hash', 'trust_state'])
      .where('account_id', '=', accountId)
      .where('pack_id', '=', 'linux')
      .executeTakeFirstOrThrow();
    await h.storage.db
      .updateTable('pack_versions')
      .set({ trusted_hash: null, trust_state: 'pending' })
      .where('id', '=', trusted.id)
      .execute();
    try {
      const response = await decisions(bob, id, { decision: 'approve' });
      expect(response.body).toMatchObject({ outcome: 'refused', status_reason: 'pack_untrusted' });
      expect(await runOf(runId)).toEqual({ status: 'denied', status_reason: 'pack_untrusted' });
    } finally {
      await h.storage.db
        .updateTable('pack_versions')
        .set({ trusted_hash: trusted.trusted_hash, trust_state: trusted.trust_state })
        .where('id', '=', trusted.id)
        .execute();
    }
  });

  it('lists newest first in keyset pages; a forged cursor is a 400', async () => {
    const page = (query: string) =>
      bob.browser.request<Loose>('GET', `/api/v1/accounts/appr-a/approvals?${query}`);
    // Enough requests of its own for several pages, whatever ran before.
    for (let i = 0; i < 4; i++) await park();
    const all = (await page('limit=100')).body.approvals.map((a: Loose) => a.id);
    expect(all.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await page(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.status).toBe(200);
      seen.push(...response.body.approvals.map((a: Loose) => a.id));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
    const forged = Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url');
    expect((await page(`cursor=${forged}`)).status).toBe(400);
    expect((await page('cursor=%%%')).status).toBe(400);
    expect((await page('limit=0')).status).toBe(400);
    expect((await page('status=maybe')).status).toBe(400);
  });

  it('bad decision bodies change nothing', async () => {
    const { id } = await park();
    for (const body of [
      {},
      { decision: 'maybe' },
      { decision: 'approve', note: 'x'.repeat(2001) },
      { decision: 'approve', note: 'fine \u202eeurt' },
      { decision: 'approve', extra: 1 },
      { decision: 'approve', grant: { duration: '2y', scope: 'any_args' } },
      { decision: 'approve', grant: { duration: '1h', scope: 'any_args', max_uses: 0 } },
    ]) {
      const response = await decisions(bob, id, body);
      expect(response.status).toBe(400);
    }
    expect((await decisions(bob, 'not-a-uuid', { decision: 'approve' })).status).toBe(404);
    expect((await requestOf(id)).status).toBe('pending');
    await decisions(bob, id, { decision: 'deny' });
  });

  it('two approvers voting at once release the run exactly once', async () => {
    const { id, runId } = await park({ minApprovals: 2 });
    const answers = await Promise.all([
      decisions(bob, id, { decision: 'approve' }),
      decisions(owner, id, { decision: 'approve' }),
    ]);
    expect(answers.map((a) => a.body.outcome).sort()).toEqual(['approved', 'pending']);
    expect(await runOf(runId)).toEqual({ status: 'pending', status_reason: null });
    const approvedEvents = await h.storage.db
      .selectFrom('audit_events')
      .select('id')
      .where('account_id', '=', accountId)
      .where('event_type', '=', 'approval.approved')
      .where('target_id', '=', id)
      .execute();
    expect(approvedEvents).toHaveLength(1);
  });

  it('concurrent runs never spend more than a grant’s max_uses', async () => {
    const key = await createApiKey(
      h.storage.db,
      { accountId, kind: 'mcp', membershipId: alice.membershipId, name: 'burst', createdBy: null },
      h.clock,
    );
    const { id, argsSha256, contract } = await park({ apiKeyId: key.id });
    const approved = await decisions(bob, id, {
      decision: 'approve',
      grant: { duration: '1h', scope: 'exact_args', max_uses: 3 },
    });
    expect(approved.body.outcome).toBe('approved');
    const match = {
      accountId,
      apiKeyLineageId: key.lineageId,
      actionId: HIGH,
      packRef: contract.packRef,
      runnerId: runner.id,
      argsSha256,
    };
    const taken = await Promise.all(
      Array.from({ length: 8 }, () =>
        h.storage.db.transaction().execute((trx) => approvals.takeStandingGrant(trx, match)),
      ),
    );
    expect(taken.filter((g) => g !== null)).toEqual([
      approved.body.grant_id,
      approved.body.grant_id,
      approved.body.grant_id,
    ]);
    const row = await h.storage.db
      .selectFrom('standing_grants')
      .select('uses')
      .where('id', '=', approved.body.grant_id)
      .executeTakeFirstOrThrow();
    expect(row.uses).toBe(3);
  });

  it('publishes an approval event on the account stream for every change', async () => {
    const seen: string[] = [];
    const stop = await subscribeAccountEvents(h.bus, (event) => {
      if (event.accountId === accountId && event.kind === 'approval') seen.push(event.id);
    });
    try {
      const { id } = await park();
      await expect.poll(() => seen).toContain(id);
      const before = seen.length;
      await decisions(bob, id, { decision: 'deny' });
      await expect.poll(() => seen.length).toBeGreaterThan(before);
      expect(seen.at(-1)).toBe(id);
    } finally {
      await stop();
    }
  });

  it('works with a RunRelease test double too (the seam): release and deny calls', async () => {
    const recording = new RecordingRunRelease();
    const seam = createApprovalService({
      db: h.storage.db,
      clock: h.clock,
      bus: h.bus,
      outbox: h.app.mailOutbox,
      baseUrl: h.config.baseUrl,
      runRelease: recording,
      approvalTtlMs: TTL_MS,
      ...approvalDataDeps,
    });
    const { id, runId } = await park();
    h.clock.advance(TTL_MS + 1);
    try {
      expect(await seam.expireDue()).toBeGreaterThanOrEqual(1);
    } finally {
      h.clock.advance(-(TTL_MS + 1));
    }
    expect(recording.calls).toContainEqual({
      kind: 'deny',
      runId,
      statusReason: 'approval_expired',
    });
    expect((await requestOf(id)).status).toBe('expired');
  });
});
