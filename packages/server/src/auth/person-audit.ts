import type { AuditEventInput } from '../audit/index.js';
import type { Tx } from '../core/tx.js';

/** An event a person causes outside any workspace: sign-in, MFA, password. */
export type PersonEvent = Omit<AuditEventInput, 'accountId'>;

/**
 * Writes a person's events to the audit log of every workspace they belong
 * to. Memberships live above auth: members implements this, app.ts passes it in.
 */
export interface PersonAudit {
  recordForPerson(trx: Tx, userId: string, event: PersonEvent): Promise<void>;
  /** Several people's events, in order, in one write (each workspace's audit lock taken once). */
  recordForPeople(
    trx: Tx,
    events: readonly { userId: string; event: PersonEvent }[],
  ): Promise<void>;
}
