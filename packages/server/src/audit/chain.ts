import { createHash } from 'node:crypto';
import { canonicalJson, type JsonObject } from '@emisar/protocol';
import type { Selectable } from 'kysely';
import type { AuditEventsTable } from './tables.js';

/**
 * One audit event exactly as `GET /api/audit` exports it, minus `hash`. The
 * chain hashes this object, so a line of an export verifies offline.
 */
export type AuditEventBody = Omit<
  Selectable<AuditEventsTable>,
  'cursor_seq' | 'cursor_sub' | 'retain_until' | 'payload' | 'hash'
> & { payload: JsonObject };

export type ExportedAuditEvent = AuditEventBody & { hash: string };

/** Each exported field and what it holds, in the order of an exported line (the hash does not depend on it). */
export const EXPORTED_FIELD_KINDS = {
  seq: 'seq',
  id: 'text',
  occurred_at: 'text',
  account_id: 'text',
  event_type: 'text',
  actor_kind: 'text',
  actor_id: 'text?',
  actor_label: 'text?',
  target_kind: 'text?',
  target_id: 'text?',
  target_label: 'text?',
  ip_address: 'text?',
  user_agent: 'text?',
  request_id: 'text?',
  auth_method: 'text?',
  mfa: 'boolean?',
  payload: 'object',
  prev_hash: 'hash?',
  hash: 'hash',
} as const satisfies Record<keyof ExportedAuditEvent, string>;

export type ExportedField = keyof typeof EXPORTED_FIELD_KINDS;
export const EXPORTED_FIELDS = Object.keys(EXPORTED_FIELD_KINDS) as ExportedField[];

/**
 * `hash = sha256(prev_hash ‖ JCS(event))`: the lowercase hex SHA-256 of the
 * UTF-8 bytes of the previous event's hex hash (nothing for the first event of
 * a chain, or for an event outside it) followed by the RFC 8785 canonical JSON
 * of the event without `hash`.
 */
export function chainHash(event: AuditEventBody): string {
  return createHash('sha256')
    .update(event.prev_hash ?? '', 'utf8')
    .update(canonicalJson(event as unknown as JsonObject), 'utf8')
    .digest('hex');
}
