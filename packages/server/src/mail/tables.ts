import type { Generated } from 'kysely';
import type { AccountDataTable } from '../core/account-data.js';
import type { Timestamp } from '../core/columns.js';

export interface MailOutboxTable {
  id: Generated<string>;
  account_id: string | null;
  to_address: string;
  template: string;
  subject: string;
  /** AES-256-GCM; cleared once delivered. */
  body_ciphertext: Uint8Array | null;
  /** pending → sent | failed; `held` = kept for the dev mailbox (no transport). */
  status: 'pending' | 'sent' | 'failed' | 'held';
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Generated<string>;
  sent_at: Timestamp | null;
}

export interface MailTables {
  mail_outbox: MailOutboxTable;
}

/** The tables here that hold a workspace's data. */
export const accountTables: readonly AccountDataTable[] = [
  { table: 'mail_outbox', accountColumn: 'account_id' },
];
