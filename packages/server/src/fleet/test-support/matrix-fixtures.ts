import type { Kysely } from 'kysely';
import { insertPackVersion } from '../../catalog/test-support/fixtures.js';
import { FULL_RUNNER_ACCESS } from '../../core/roles.js';
import type { Database } from '../../db/schema.js';
import { insertRunner } from './fixtures.js';

/** The account-scoped routes of the fleet and catalog (for the role × endpoint matrix). */
export const FLEET_PATHS = /^(\/runners.*|\/packs.*)$/;

type Caller = { membershipId: string; accountId: string };
type Fixture = (caller: Caller) => Promise<{ path: string; body?: unknown }>;

/**
 * A fixture per fleet/catalog route that succeeds for every role holding the
 * route's permission: the caller is given runner reach, runners are created
 * disabled (so enabling stays within the plan) and the enable fixture lifts the plan.
 */
export function fleetMatrixFixtures(db: () => Kysely<Database>): Record<string, Fixture> {
  const runner = async ({ membershipId, accountId }: Caller) => {
    await db()
      .updateTable('memberships')
      .set({ runner_access: JSON.stringify(FULL_RUNNER_ACCESS) })
      .where('id', '=', membershipId)
      .execute();
    const { id } = await insertRunner(db(), accountId);
    await db()
      .updateTable('runners')
      .set({ disabled_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
    return id;
  };
  const pending = async ({ accountId }: Caller) => insertPackVersion(db(), accountId);
  const trusted = async ({ accountId }: Caller) =>
    insertPackVersion(db(), accountId, { trusted: true });
  return {
    'GET /runners': async () => ({ path: '/runners' }),
    'GET /runners/:id': async (c) => ({ path: `/runners/${await runner(c)}` }),
    'PATCH /runners/:id': async (c) => ({
      path: `/runners/${await runner(c)}`,
      body: { group: 'ops' },
    }),
    'POST /runners/:id/disable': async (c) => ({
      path: `/runners/${await runner(c)}/disable`,
      body: {},
    }),
    'POST /runners/:id/enable': async (c) => {
      await db()
        .updateTable('accounts')
        .set({ plan: 'enterprise' })
        .where('id', '=', c.accountId)
        .execute();
      return { path: `/runners/${await runner(c)}/enable`, body: {} };
    },
    'POST /runners/:id/awaiting-reenrollment': async (c) => ({
      path: `/runners/${await runner(c)}/awaiting-reenrollment`,
      body: { awaiting: true },
    }),
    'DELETE /runners/:id': async (c) => ({ path: `/runners/${await runner(c)}` }),
    'GET /packs': async () => ({ path: '/packs' }),
    'GET /packs/:id/candidates/:candidateId': async (c) => {
      const v = await pending(c);
      return { path: `/packs/${v.versionId}/candidates/${v.candidateId}` };
    },
    'POST /packs/:id/candidates/:candidateId/trust': async (c) => {
      const v = await pending(c);
      return { path: `/packs/${v.versionId}/candidates/${v.candidateId}/trust`, body: {} };
    },
    'POST /packs/:id/candidates/:candidateId/reject': async (c) => {
      const v = await pending(c);
      return { path: `/packs/${v.versionId}/candidates/${v.candidateId}/reject`, body: {} };
    },
    'POST /packs/:id/revoke': async (c) => ({
      path: `/packs/${(await trusted(c)).versionId}/revoke`,
      body: {},
    }),
    'PUT /packs/:id/retirement-override': async (c) => ({
      path: `/packs/${(await trusted(c)).versionId}/retirement-override`,
      body: { override: true },
    }),
    'DELETE /packs/:id': async (c) => ({ path: `/packs/${(await pending(c)).versionId}` }),
  };
}
