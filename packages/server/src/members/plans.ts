import type { Kysely } from 'kysely';
import { changePlan } from '../accounts/index.js';
import { recordAuditEvent } from '../audit/index.js';
import { isPlan, type Plan } from '../billing/index.js';
import { systemActor } from '../core/actor.js';
import type { RequestContext } from '../core/context.js';
import { InvalidParamsError, NotFoundError } from '../core/errors.js';
import type { Database } from '../db/schema.js';

/** `emisar-server plan set`: self-hosted installs without Paddle. */
export async function setPlan(
  db: Kysely<Database>,
  slug: string,
  plan: string,
  deps: { context?: RequestContext } = {},
): Promise<{ from: string; to: Plan }> {
  if (!isPlan(plan)) throw new InvalidParamsError(`Unknown plan "${plan}".`, 'invalid_plan');
  return db.transaction().execute(async (trx) => {
    const account = await changePlan(trx, slug, plan);
    if (!account) throw new NotFoundError('No such account.');
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
