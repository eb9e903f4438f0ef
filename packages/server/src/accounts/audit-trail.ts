import type { Transaction } from 'kysely';
import { type AuditActor, type AuditEventInput, recordAuditEvents } from '../audit/record.js';
import type { Database } from '../db/schema.js';

export type { AuditActor, AuditEventInput } from '../audit/record.js';

export const systemActor = (label: string): AuditActor => ({ kind: 'system', id: null, label });
export const userActor = (user: { id: string; email: string }): AuditActor => ({
  kind: 'user',
  id: user.id,
  label: user.email,
});

/** Records events in the caller's transaction (call it last: it holds the chain lock to commit). */
export async function audit(
  trx: Transaction<Database>,
  ...events: AuditEventInput[]
): Promise<void> {
  if (events.length) await recordAuditEvents(trx, events);
}

/**
 * Events a person causes outside any account (sign-in, MFA, password) go to
 * every account they belong to.
 */
export async function auditForUser(
  trx: Transaction<Database>,
  userId: string,
  event: Omit<AuditEventInput, 'accountId'>,
): Promise<void> {
  const accounts = await trx
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .where('accepted_at', 'is not', null)
    .execute();
  await audit(trx, ...accounts.map(({ account_id }) => ({ ...event, accountId: account_id })));
}
