import { recordAuditEvents } from '../audit/index.js';
import type { PersonAudit, PersonEvent } from '../auth/index.js';
import type { Tx } from '../core/tx.js';
import { memberQueries } from './queries.js';

/**
 * Events a person causes outside any workspace (sign-in, MFA, password) go to
 * every workspace they belong to, in one write so the workspaces' audit locks
 * are taken in a fixed order.
 */
async function recordForPeople(
  trx: Tx,
  events: readonly { userId: string; event: PersonEvent }[],
): Promise<void> {
  const userIds = [...new Set(events.map((e) => e.userId))];
  const joined = userIds.length ? await memberQueries.joinedAccountsOf(trx, userIds) : [];
  await recordAuditEvents(
    trx,
    events.flatMap(({ userId, event }) =>
      joined
        .filter((m) => m.user_id === userId)
        .map(({ account_id }) => ({ ...event, accountId: account_id })),
    ),
  );
}

export const personAudit: PersonAudit = {
  recordForPerson: (trx, userId, event) => recordForPeople(trx, [{ userId, event }]),
  recordForPeople,
};
