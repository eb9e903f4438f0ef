import type { Kysely, Transaction } from 'kysely';
import { recordAuditEvent, recordAuditEvents } from '../audit/record.js';
import { isPlan, type Plan } from '../billing/plans.js';
import { systemActor, userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, InvalidParamsError, NotFoundError } from '../core/errors.js';
import { FULL_PACK_ACCESS, FULL_RUNNER_ACCESS } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import { DEFAULT_POLICY_RULES } from './default-policy.js';
import { type AccountRow, findLiveAccountBySlug } from './queries.js';
import { slugFromName, slugProblem } from './slug.js';
import type { AccountSettings } from './tables.js';

export const DEFAULT_SETTINGS: AccountSettings = {
  require_mfa: false,
  max_grant_lifetime_seconds: null,
  runner_inactive_retention_hours: null,
  pack_unseen_retention_days: null,
};

export interface NewAccount {
  name: string;
  /** Derived from the name when absent. */
  slug?: string;
  owner: { id: string; email: string };
}

export interface CreatedAccount {
  account: AccountRow;
  ownerMembershipId: string;
}

const SLUG_ATTEMPTS = 5;

/**
 * A workspace with its creator as owner (full access), the Free plan and the
 * default policy, all in the caller's transaction.
 */
export async function createAccount(
  trx: Transaction<Database>,
  input: NewAccount,
  deps: { clock: Clock; context?: RequestContext },
): Promise<CreatedAccount> {
  if (input.slug !== undefined) {
    const problem = slugProblem(input.slug);
    if (problem) throw new InvalidParamsError(problem, 'invalid_slug');
  }
  const now = deps.clock.now().toISOString();
  let account: AccountRow | undefined;
  for (let attempt = 0; !account && attempt < SLUG_ATTEMPTS; attempt++) {
    const slug = input.slug ?? slugFromName(input.name, attempt);
    account = await trx
      .insertInto('accounts')
      .values({ name: input.name, slug, plan: 'free', created_at: now })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!account && input.slug !== undefined) {
      throw new ConflictError('That workspace slug is taken.', 'slug_taken');
    }
  }
  if (!account) throw new ConflictError('Could not find a free workspace slug.', 'slug_taken');

  const membership = await trx
    .insertInto('memberships')
    .values({
      account_id: account.id,
      user_id: input.owner.id,
      role: 'owner',
      accepted_at: now,
      runner_access: JSON.stringify(FULL_RUNNER_ACCESS),
      pack_access: JSON.stringify(FULL_PACK_ACCESS),
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('policies')
    .values({
      account_id: account.id,
      scope: 'account',
      rules: JSON.stringify(DEFAULT_POLICY_RULES),
    })
    .execute();

  const actor = userActor(input.owner);
  await recordAuditEvents(trx, [
    {
      accountId: account.id,
      eventType: 'account.created',
      actor,
      target: { kind: 'account', id: account.id, label: account.slug },
      payload: { name: account.name, slug: account.slug, plan: account.plan },
      context: deps.context,
    },
    {
      accountId: account.id,
      eventType: 'membership.created',
      actor,
      target: { kind: 'membership', id: membership.id, label: input.owner.email },
      payload: { role: 'owner' },
      context: deps.context,
    },
  ]);
  return { account, ownerMembershipId: membership.id };
}

/** `emisar-server plan set`: self-hosted installs without Paddle. */
export async function setPlan(
  db: Kysely<Database>,
  slug: string,
  plan: string,
  deps: { context?: RequestContext } = {},
): Promise<{ from: string; to: Plan }> {
  if (!isPlan(plan)) throw new InvalidParamsError(`Unknown plan "${plan}".`, 'invalid_plan');
  return db.transaction().execute(async (trx) => {
    const account = await trx
      .selectFrom('accounts')
      .select(['id', 'plan', 'slug'])
      .where('slug', '=', slug)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!account) throw new NotFoundError('No such account.');
    await trx.updateTable('accounts').set({ plan }).where('id', '=', account.id).execute();
    await recordAuditEvent(trx, {
      accountId: account.id,
      eventType: 'account.plan_changed',
      actor: systemActor('cli'),
      target: { kind: 'account', id: account.id, label: account.slug },
      payload: { from: account.plan, to: plan },
      context: deps.context,
    });
    return { from: account.plan, to: plan };
  });
}

export { findLiveAccountBySlug };
