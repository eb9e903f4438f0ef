import { type AuditEventInput, recordAuditEvents } from '../audit/record.js';
import type { Tx } from '../core/tx.js';

/**
 * Events a person causes outside any workspace (sign-in, MFA, password) go to
 * every workspace they belong to.
 */
export async function recordForPerson(
  trx: Tx,
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
  await recordAuditEvents(
    trx,
    accounts.map(({ account_id }) => ({ ...event, accountId: account_id })),
  );
}
