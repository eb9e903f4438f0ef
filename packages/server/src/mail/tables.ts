import type { Generated } from 'kysely';
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
