import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Run, stdoutOf } from './support/api.js';
import { onPostgres } from './support/control-plane.js';
import type { Browser } from './support/people.js';
import { OWNER, type RunnerView, System } from './support/system.js';
import { eventually } from './support/wait.js';

const backend = onPostgres ? 'PostgreSQL' : 'PGlite';

interface Approval {
  id: string;
  run_id: string;
  status: string;
  [field: string]: unknown;
}

describe(`approvals end to end: email, second member, quorum, deny (${backend})`, () => {
  let s: System;
  let runner: RunnerView;
  let owner: Browser;
  let alice: Browser;
  let bob: Browser;
  const base = () => `/api/v1/accounts/${s.slug}`;

  beforeAll(async () => {
    s = await System.start();
    runner = await s.waitOnline('e2e-host-1');
    owner = await s.people.signIn(OWNER);
    alice = await s.people.invite(owner, s.slug, 'alice@e2e.test', 'admin');
    bob = await s.people.invite(owner, s.slug, 'bob@e2e.test', 'admin');
  }, 240_000);
  afterAll(() => s?.close());

  /** The `mcp` key (acting as the owner) asks for the high-risk echo. */
  async function requestGuarded(word: string): Promise<Run> {
    const run = await s.runs().create({
      runner: runner.ref,
      action_id: 'e2ekit.guarded_echo',
      args: { word },
      reason: `e2e: echo ${word} after a human approves`,
    });
    expect(run.status).toBe('pending_approval');
    return run;
  }

  async function approvalFor(member: Browser, run: Run): Promise<Approval> {
    return eventually(async () => {
      const listed = await member.request<{ approvals: Approval[] }>('GET', `${base()}/approvals`);
      return listed.body.approvals?.find((a) => a.run_id === run.id);
    }, 100);
  }

  /** Each test sets the quorum it needs, so none depends on what ran before it. */
  async function requireApprovals(minApprovals: number): Promise<void> {
    const policy = await owner.request('PUT', `${base()}/policies/account`, {
      rules: {
        defaults: { low: 'allow', medium: 'allow', high: 'require_approval', critical: 'deny' },
        overrides: [],
        approval: { min_approvals: minApprovals, allow_self_approval: false },
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
  }

  async function decide(member: Browser, approval: Approval, decision: 'approve' | 'deny') {
    const response = await member.request('POST', `${base()}/approvals/${approval.id}/decisions`, {
      decision,
      note: `e2e ${decision}`,
    });
    expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  }

  it('parks as pending_approval, emails the deciders, a second member approves, the action runs', async () => {
    await requireApprovals(1);
    const run = await requestGuarded('approved-once');
    const approval = await approvalFor(alice, run);
    // Mail about this request: other tests' requests mail the same people.
    const mail = await s.smtp.next('alice@e2e.test', approval.id);
    expect(mail.subject).toMatch(/approv/i);
    expect(mail.text).toContain('e2ekit.guarded_echo');
    expect(mail.text).toContain(s.cp.url);

    // Nothing ran while it waited.
    expect(await s.runner!.journalFor(run.request_id)).toEqual([]);
    await decide(alice, approval, 'approve');

    const done = await s.runs().waitTerminal(run.id);
    expect(done, s.diagnostics()).toMatchObject({ status: 'success', exit_code: 0 });
    expect(stdoutOf(await s.runs().output(run.id))).toBe('approved-once\n');
    expect(await s.runner!.executions(run.request_id)).toBe(1);
    // The requester hears the outcome.
    expect((await s.smtp.next(OWNER, approval.id)).text).toMatch(/approved/i);
  }, 180_000);

  it('with min_approvals=2 one approval is not enough; the second releases it', async () => {
    await requireApprovals(2);
    const run = await requestGuarded('approved-twice');
    const approval = await approvalFor(alice, run);
    await decide(alice, approval, 'approve');
    // A second vote by the same approver counts once.
    await alice.request('POST', `${base()}/approvals/${approval.id}/decisions`, {
      decision: 'approve',
    });
    expect((await s.runs().get(run.id)).status).toBe('pending_approval');
    // The requester may not approve their own request here.
    const self = await owner.request('POST', `${base()}/approvals/${approval.id}/decisions`, {
      decision: 'approve',
    });
    expect(self.status).toBe(403);
    expect((await s.runs().get(run.id)).status).toBe('pending_approval');

    await decide(bob, await approvalFor(bob, run), 'approve');
    const done = await s.runs().waitTerminal(run.id);
    expect(done, s.diagnostics()).toMatchObject({ status: 'success' });
    expect(await s.runner!.executions(run.request_id)).toBe(1);
  }, 180_000);

  it('one deny ends it: the run is denied and never reaches the host', async () => {
    await requireApprovals(1);
    const run = await requestGuarded('never-runs');
    await decide(bob, await approvalFor(bob, run), 'deny');
    const done = await s.runs().waitTerminal(run.id);
    expect(done).toMatchObject({ status: 'denied', status_reason: 'approval_denied' });
    // A late approval changes nothing.
    const late = await alice.request(
      'POST',
      `${base()}/approvals/${(await approvalFor(alice, run)).id}/decisions`,
      { decision: 'approve' },
    );
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect((await s.runs().get(run.id)).status).toBe('denied');
    expect(await s.runner!.journalFor(run.request_id)).toEqual([]);
  }, 180_000);
});
