import { recordAuditEvent } from '../audit/index.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import type { Tx } from '../core/tx.js';
import { type CreateApiKeyInput, type CreatedApiKey, createApiKey } from './api-keys.js';
import {
  type CreatedEnrollmentKey,
  type CreateEnrollmentKeyInput,
  createEnrollmentKey,
} from './enrollment-keys.js';

/** Who mints a credential, for the row and its audit event (console member or CLI). */
export interface Issuer {
  accountId: string;
  actor: AuditActor;
  /** The user, when a person mints it. */
  createdBy: string | null;
  context: RequestContext;
}

/** Mints an API key and its `api_key.created` (or `.rotated`) event in the caller's transaction. */
export async function issueApiKey(
  trx: Tx,
  issuer: Issuer,
  input: Omit<CreateApiKeyInput, 'accountId' | 'createdBy'>,
  clock: Clock,
): Promise<CreatedApiKey> {
  const key = await createApiKey(
    trx,
    { ...input, accountId: issuer.accountId, createdBy: issuer.createdBy },
    clock,
  );
  await recordAuditEvent(trx, {
    accountId: issuer.accountId,
    eventType: input.rotatedFrom ? 'api_key.rotated' : 'api_key.created',
    actor: issuer.actor,
    target: { kind: 'api_key', id: key.id, label: input.name },
    payload: {
      kind: input.kind,
      membership_id: input.membershipId,
      lineage_id: key.lineageId,
      expires_at: key.expiresAt,
      ...(input.rotatedFrom ? { previous_key_id: input.rotatedFrom.id } : {}),
    },
    context: issuer.context,
  });
  return key;
}

/** Mints an enrollment key and its `enrollment_key.created` event in the caller's transaction. */
export async function issueEnrollmentKey(
  trx: Tx,
  issuer: Issuer,
  input: Omit<CreateEnrollmentKeyInput, 'accountId' | 'createdBy'>,
  clock: Clock,
): Promise<CreatedEnrollmentKey> {
  const key = await createEnrollmentKey(
    trx,
    { ...input, accountId: issuer.accountId, createdBy: issuer.createdBy },
    clock,
  );
  await recordAuditEvent(trx, {
    accountId: issuer.accountId,
    eventType: 'enrollment_key.created',
    actor: issuer.actor,
    target: { kind: 'enrollment_key', id: key.id, label: input.name },
    payload: {
      reusable: input.reusable,
      max_uses: input.reusable ? input.maxUses : 1,
      pinned_group: input.pinnedGroup,
      expires_at: key.expiresAt,
    },
    context: issuer.context,
  });
  return key;
}
