import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { RequestContext } from '../http/request-context.js';

export interface AuditParty {
  kind: string;
  id: string | null;
  label: string | null;
}

export interface IdentityAuditEvent {
  accountId: string;
  eventType: string;
  actor: AuditParty;
  target?: AuditParty;
  payload?: Record<string, unknown>;
  context?: RequestContext;
}

/** Writes one audit event inside the caller's transaction (the audit domain's recorder). */
export type AuditWriter = (trx: Kysely<Database>, event: IdentityAuditEvent) => Promise<void>;

export const systemActor = (label: string): AuditParty => ({ kind: 'system', id: null, label });
export const userParty = (user: { id: string; email: string }): AuditParty => ({
  kind: 'user',
  id: user.id,
  label: user.email,
});

/**
 * Events a person causes outside any account (sign-in, MFA, password) go to
 * every account they belong to.
 */
export async function auditForUser(
  trx: Kysely<Database>,
  audit: AuditWriter,
  userId: string,
  event: Omit<IdentityAuditEvent, 'accountId'>,
): Promise<void> {
  const accounts = await trx
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .where('accepted_at', 'is not', null)
    .execute();
  for (const { account_id } of accounts) await audit(trx, { ...event, accountId: account_id });
}
