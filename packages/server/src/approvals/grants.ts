import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { InvalidParamsError, NotFoundError } from '../core/errors.js';
import { UUID_PATTERN } from '../core/parse-input.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { StandingGrantsTable } from './tables.js';

export const GRANT_DURATIONS = ['once', '1h', '24h', '30d', '90d'] as const;
export type GrantDuration = (typeof GRANT_DURATIONS)[number];
const DURATION_SECONDS: Record<Exclude<GrantDuration, 'once'>, number> = {
  '1h': 3_600,
  '24h': 86_400,
  '30d': 30 * 86_400,
  '90d': 90 * 86_400,
};
export const MAX_GRANT_USES = 100_000;

export const grantOptionsSchema = z.strictObject({
  duration: z.enum(GRANT_DURATIONS),
  scope: z.enum(['exact_args', 'any_args']),
  max_uses: z.number().int().min(1).max(MAX_GRANT_USES).optional(),
});
export type GrantOptions = z.infer<typeof grantOptionsSchema>;

export interface GrantMatch {
  accountId: string;
  apiKeyLineageId: string;
  actionId: string;
  packRef: string;
  runnerId: string;
  argsSha256: string;
}

/**
 * Consumes one use of a live standing grant matching an API-key run, in the
 * run's transaction; null when none matches. The use is counted under the
 * row lock, so concurrent runs never spend more than `max_uses`. An exact-args
 * grant is preferred over an any-args one, then the one expiring first.
 */
export async function takeStandingGrant(
  trx: Tx,
  match: GrantMatch,
  clock: Clock,
): Promise<string | null> {
  const now = clock.now().toISOString();
  const live = sql<boolean>`revoked_at IS NULL AND expires_at > ${now} AND (max_uses IS NULL OR uses < max_uses)`;
  const { rows } = await sql<{ id: string }>`
    UPDATE standing_grants SET uses = uses + 1, last_used_at = ${now}
    WHERE account_id = ${match.accountId} AND ${live} AND id = (
      SELECT id FROM standing_grants
      WHERE account_id = ${match.accountId}
        AND api_key_lineage_id = ${match.apiKeyLineageId}
        AND action_id = ${match.actionId}
        AND pack_ref = ${match.packRef}
        AND (runner_id IS NULL OR runner_id = ${match.runnerId})
        AND (args_sha256 IS NULL OR args_sha256 = ${match.argsSha256})
        AND ${live}
      ORDER BY args_sha256 IS NULL, expires_at, id
      LIMIT 1
      FOR UPDATE)
    RETURNING id`.execute(trx);
  return rows[0]?.id ?? null;
}

/**
 * The grant an approver asked for, bounded by the account's cap
 * (`max_grant_lifetime_seconds`: null no cap, 0 grants off); null for `once`.
 */
export function grantLifetimeSeconds(
  options: GrantOptions,
  capSeconds: number | null,
): number | null {
  if (options.duration === 'once') return null;
  if (capSeconds === 0) {
    throw new InvalidParamsError(
      'Standing grants are turned off in this workspace.',
      'grants_disabled',
    );
  }
  const asked = DURATION_SECONDS[options.duration];
  return capSeconds === null ? asked : Math.min(asked, capSeconds);
}

export async function createStandingGrant(
  trx: Tx,
  grant: {
    accountId: string;
    requestId: string;
    createdByUserId: string;
    apiKeyLineageId: string;
    actionId: string;
    packRef: string;
    runnerId: string;
    argsSha256: string | null;
    maxUses: number | null;
    expiresAt: string;
  },
): Promise<string> {
  const row = await trx
    .insertInto('standing_grants')
    .values({
      account_id: grant.accountId,
      approval_request_id: grant.requestId,
      created_by_user_id: grant.createdByUserId,
      api_key_lineage_id: grant.apiKeyLineageId,
      action_id: grant.actionId,
      pack_ref: grant.packRef,
      runner_id: grant.runnerId,
      args_sha256: grant.argsSha256,
      max_uses: grant.maxUses,
      expires_at: grant.expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const grantColumns = [
  'id',
  'approval_request_id',
  'created_by_user_id',
  'api_key_lineage_id',
  'action_id',
  'pack_ref',
  'runner_id',
  'args_sha256',
  'max_uses',
  'uses',
  'expires_at',
  'revoked_at',
  'revoked_by_user_id',
  'last_used_at',
  'created_at',
] as const;

type GrantRow = Pick<Selectable<StandingGrantsTable>, (typeof grantColumns)[number]>;

function grantView(row: GrantRow, now: string) {
  return {
    ...row,
    scope: row.args_sha256 === null ? 'any_args' : 'exact_args',
    live:
      row.revoked_at === null &&
      row.expires_at > now &&
      (row.max_uses === null || row.uses < row.max_uses),
  };
}

/** Listing, reading and revoking standing grants (owners and admins revoke). */
export function createGrantService(deps: { db: Kysely<Database>; clock: Clock }) {
  const { db, clock } = deps;
  const find = (accountId: string, id: string) =>
    db
      .selectFrom('standing_grants')
      .select(grantColumns)
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();

  return {
    async list(access: AccountAccess, query: { live?: boolean }) {
      const now = clock.now().toISOString();
      let q = db
        .selectFrom('standing_grants')
        .select(grantColumns)
        .where('account_id', '=', access.account.id);
      if (query.live) {
        q = q
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]));
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(500).execute();
      return { grants: rows.map((row) => grantView(row, now)) };
    },

    async get(access: AccountAccess, id: string) {
      const row = UUID_PATTERN.test(id) ? await find(access.account.id, id) : undefined;
      if (!row) throw new NotFoundError();
      return { grant: grantView(row, clock.now().toISOString()) };
    },

    async revoke(access: AccountAccess, id: string, context: RequestContext) {
      if (!UUID_PATTERN.test(id)) throw new NotFoundError();
      const now = clock.now().toISOString();
      const row = await db.transaction().execute(async (trx) => {
        const revoked = await trx
          .updateTable('standing_grants')
          .set({ revoked_at: now, revoked_by_user_id: access.membership.user_id })
          .where('account_id', '=', access.account.id)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .returning(grantColumns)
          .executeTakeFirst();
        if (!revoked) {
          const existing = await trx
            .selectFrom('standing_grants')
            .select('id')
            .where('account_id', '=', access.account.id)
            .where('id', '=', id)
            .executeTakeFirst();
          if (!existing) throw new NotFoundError();
          return null;
        }
        await recordAuditEvent(trx, {
          accountId: access.account.id,
          eventType: 'approval.grant_revoked',
          actor: access.actor,
          target: { kind: 'standing_grant', id, label: revoked.action_id },
          payload: { uses: revoked.uses, expires_at: revoked.expires_at },
          context,
        });
        return revoked;
      });
      return { grant: row ? grantView(row, now) : (await this.get(access, id)).grant };
    },
  };
}
