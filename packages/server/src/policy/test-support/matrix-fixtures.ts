import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { insertRunner } from '../../fleet/test-support/fixtures.js';
import { DEFAULT_POLICY_RULES } from '../default-policy.js';

/** The account-scoped routes of policy and approvals (for the role × endpoint matrix). */
export const POLICY_PATHS = /^(\/policies.*|\/approvals.*|\/grants.*|\/settings\/agent-stop)$/;

type Caller = { membershipId: string; accountId: string };
type Fixture = (caller: Caller) => Promise<{ path: string; body?: unknown }>;

/**
 * A fixture per policy/approval route that succeeds for every role holding the
 * route's permission: requests are the caller's own (so they see them), low
 * risk (no re-auth), self-approval allowed, and the caller is given reach.
 */
export function policyMatrixFixtures(db: () => Kysely<Database>): Record<string, Fixture> {
  const rules = { rules: DEFAULT_POLICY_RULES };
  const groupPolicy = async (accountId: string) => {
    const group = `g-${randomUUID().slice(0, 8)}`;
    await db()
      .insertInto('policies')
      .values({
        account_id: accountId,
        scope: 'group',
        scope_ref: group,
        rules: JSON.stringify(DEFAULT_POLICY_RULES),
      })
      .execute();
    return group;
  };
  const runnerPolicy = async (accountId: string) => {
    const runner = await insertRunner(db(), accountId);
    await db()
      .insertInto('policies')
      .values({
        account_id: accountId,
        scope: 'runner',
        scope_ref: runner.id,
        rules: JSON.stringify(DEFAULT_POLICY_RULES),
      })
      .execute();
    return runner.id;
  };
  const ownRequest = async ({ membershipId, accountId }: Caller) => {
    const member = await db()
      .updateTable('memberships')
      .set({ runner_access: JSON.stringify({ mode: 'all' }) })
      .where('id', '=', membershipId)
      .returning('user_id')
      .executeTakeFirstOrThrow();
    const request = await db()
      .insertInto('approval_requests')
      .values({
        account_id: accountId,
        run_id: randomUUID(),
        requested_by_user_id: member.user_id,
        reason: 'matrix fixture request',
        runner_id: randomUUID(),
        runner_group: 'default',
        action_id: 'linux.uptime',
        risk: 'low',
        pack_ref: `linux@1.0.0/sha256:${'a'.repeat(64)}`,
        pack_id: 'linux',
        args_sha256: 'b'.repeat(64),
        min_approvals: 1,
        allow_self_approval: true,
        expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return request.id;
  };
  const grant = async (caller: Caller) => {
    const requestId = await ownRequest(caller);
    const row = await db()
      .insertInto('standing_grants')
      .values({
        account_id: caller.accountId,
        approval_request_id: requestId,
        api_key_lineage_id: randomUUID(),
        action_id: 'linux.uptime',
        pack_ref: `linux@1.0.0/sha256:${'a'.repeat(64)}`,
        runner_id: null,
        args_sha256: null,
        max_uses: null,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  };

  return {
    'GET /policies': async () => ({ path: '/policies' }),
    'GET /policies/account': async () => ({ path: '/policies/account' }),
    'PUT /policies/account': async () => ({ path: '/policies/account', body: rules }),
    'GET /policies/group/:group': async ({ accountId }) => ({
      path: `/policies/group/${await groupPolicy(accountId)}`,
    }),
    'PUT /policies/group/:group': async () => ({
      path: `/policies/group/g-${randomUUID().slice(0, 8)}`,
      body: rules,
    }),
    'DELETE /policies/group/:group': async ({ accountId }) => ({
      path: `/policies/group/${await groupPolicy(accountId)}`,
    }),
    'GET /policies/runner/:runnerId': async ({ accountId }) => ({
      path: `/policies/runner/${await runnerPolicy(accountId)}`,
    }),
    'PUT /policies/runner/:runnerId': async ({ accountId }) => ({
      path: `/policies/runner/${(await insertRunner(db(), accountId)).id}`,
      body: rules,
    }),
    'DELETE /policies/runner/:runnerId': async ({ accountId }) => ({
      path: `/policies/runner/${await runnerPolicy(accountId)}`,
    }),
    'POST /policies/preview': async () => ({ path: '/policies/preview', body: rules }),
    'PUT /settings/agent-stop': async () => ({
      path: '/settings/agent-stop',
      body: { stopped: false },
    }),
    'GET /approvals': async () => ({ path: '/approvals' }),
    'GET /approvals/:id': async (caller) => ({ path: `/approvals/${await ownRequest(caller)}` }),
    'POST /approvals/:id/decisions': async (caller) => ({
      path: `/approvals/${await ownRequest(caller)}/decisions`,
      body: { decision: 'deny' },
    }),
    'GET /grants': async () => ({ path: '/grants' }),
    'GET /grants/:id': async (caller) => ({ path: `/grants/${await grant(caller)}` }),
    'DELETE /grants/:id': async (caller) => ({ path: `/grants/${await grant(caller)}` }),
  };
}
