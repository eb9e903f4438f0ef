import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/record.js';
import { isPlan, type Plan } from '../billing/plans.js';
import { systemActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, InvalidParamsError, NotFoundError } from '../core/errors.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import type { AccountRow } from './queries.js';
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
}

const SLUG_ATTEMPTS = 5;

/**
 * A workspace record on the Free plan, in the caller's transaction. Its owner,
 * policy and audit events are the caller's (members creates whole workspaces).
 */
export async function createAccount(trx: Tx, input: NewAccount, clock: Clock): Promise<AccountRow> {
  if (input.slug !== undefined) {
    const problem = slugProblem(input.slug);
    if (problem) throw new InvalidParamsError(problem, 'invalid_slug');
  }
  const now = clock.now().toISOString();
  for (let attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
    const slug = input.slug ?? slugFromName(input.name, attempt);
    const account = await trx
      .insertInto('accounts')
      .values({ name: input.name, slug, plan: 'free', created_at: now })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (account) return account;
    if (input.slug !== undefined) {
      throw new ConflictError('That workspace slug is taken.', 'slug_taken');
    }
  }
  throw new ConflictError('Could not find a free workspace slug.', 'slug_taken');
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
