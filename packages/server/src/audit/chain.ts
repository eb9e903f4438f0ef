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

/** The order of fields in an exported line (the hash does not depend on it). */
export const EXPORTED_FIELDS = [
  'seq',
  'id',
  'occurred_at',
  'account_id',
  'event_type',
  'actor_kind',
  'actor_id',
  'actor_label',
  'target_kind',
  'target_id',
  'target_label',
  'ip_address',
  'user_agent',
  'request_id',
  'auth_method',
  'mfa',
  'payload',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof ExportedAuditEvent)[];

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
