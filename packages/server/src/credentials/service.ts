import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ForbiddenError, NotFoundError } from '../core/errors.js';
import type { ApiKeyKind } from '../core/principal.js';
import type { Database } from '../db/schema.js';
import type { CreatedApiKey } from './api-keys.js';
import { type Issuer, issueApiKey, issueEnrollmentKey } from './issue.js';

export interface CredentialDeps {
  db: Kysely<Database>;
  clock: Clock;
}

const DAY_MS = 86_400_000;

/** What the caller sees once: the secret is never retrievable again. */
const mintedKeyView = (key: CreatedApiKey, meta: { kind: ApiKeyKind; name: string }) => ({
  id: key.id,
  kind: meta.kind,
  name: meta.name,
  secret: key.secret,
  expires_at: key.expiresAt,
  lineage_id: key.lineageId,
});

const issuerOf = (access: AccountAccess, context: RequestContext): Issuer => ({
  accountId: access.account.id,
  actor: access.actor,
  createdBy: access.membership.user_id,
  context,
});

const apiKeyColumns = [
  'id',
  'kind',
  'name',
  'membership_id',
  'lineage_id',
  'rotated_from_id',
  'created_by',
  'created_at',
  'expires_at',
  'revoked_at',
  'last_used_at',
] as const;

const enrollmentKeyColumns = [
  'id',
  'name',
  'reusable',
  'max_uses',
  'uses',
  'pinned_group',
  'created_by',
  'created_at',
  'expires_at',
  'revoked_at',
  'last_used_at',
] as const;

/**
 * API keys and enrollment keys as the console and CLI manage them. Secrets are
 * returned once. A factory of short methods.
 */
export function createCredentialService(deps: CredentialDeps) {
  const { db, clock } = deps;

  const mayManageAll = (access: AccountAccess) => access.permissions.has('account.manage');

  function checkKindAllowed(access: AccountAccess, kind: ApiKeyKind) {
    if (kind === 'audit_export' && !mayManageAll(access)) {
      throw new ForbiddenError('Only owners and admins mint audit export keys.');
    }
  }

  async function findKey(executor: Kysely<Database>, access: AccountAccess, keyId: string) {
    const key = await executor
      .selectFrom('api_keys')
      .select([...apiKeyColumns])
      .where('id', '=', keyId)
      .where('account_id', '=', access.account.id)
      .executeTakeFirst();
    // A member who may not manage others' keys does not see them: 404, not 403.
    if (!key || (!mayManageAll(access) && key.membership_id !== access.membership.id)) {
      throw new NotFoundError();
    }
    return key;
  }

  return {
    /** Owners/admins see every key; others their own. */
    async listApiKeys(access: AccountAccess) {
      let query = db
        .selectFrom('api_keys')
        .select([...apiKeyColumns])
        .where('account_id', '=', access.account.id);
      if (!mayManageAll(access)) query = query.where('membership_id', '=', access.membership.id);
      return query.orderBy('created_at', 'desc').execute();
    },

    async mintApiKey(
      access: AccountAccess,
      input: { kind: ApiKeyKind; name: string; expiresInDays: number | null | undefined },
      context: RequestContext,
    ) {
      checkKindAllowed(access, input.kind);
      const expiresAt =
        input.expiresInDays === undefined
          ? {}
          : {
              expiresAt:
                input.expiresInDays === null
                  ? null
                  : new Date(clock.now().getTime() + input.expiresInDays * DAY_MS),
            };
      const key = await db.transaction().execute((trx) =>
        issueApiKey(
          trx,
          issuerOf(access, context),
          {
            kind: input.kind,
            membershipId: input.kind === 'mcp' ? access.membership.id : null,
            name: input.name,
            ...expiresAt,
          },
          clock,
        ),
      );
      return mintedKeyView(key, input);
    },

    /** A new secret in the same lineage (same lifetime); the old key stops working at once. */
    async rotateApiKey(access: AccountAccess, keyId: string, context: RequestContext) {
      return db.transaction().execute(async (trx) => {
        const old = await findKey(trx, access, keyId);
        const now = clock.now();
        const revoked = await trx
          .updateTable('api_keys')
          .set({ revoked_at: now.toISOString() })
          .where('id', '=', old.id)
          .where('account_id', '=', access.account.id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(revoked.numUpdatedRows) !== 1) throw new NotFoundError();
        const lifetime =
          old.expires_at === null
            ? null
            : new Date(old.expires_at).getTime() - new Date(old.created_at).getTime();
        const key = await issueApiKey(
          trx,
          issuerOf(access, context),
          {
            kind: old.kind,
            membershipId: old.membership_id,
            name: old.name,
            expiresAt: lifetime === null ? null : new Date(now.getTime() + lifetime),
            rotatedFrom: { id: old.id, lineageId: old.lineage_id },
          },
          clock,
        );
        return mintedKeyView(key, old);
      });
    },

    async revokeApiKey(access: AccountAccess, keyId: string, context: RequestContext) {
      await db.transaction().execute(async (trx) => {
        const key = await findKey(trx, access, keyId);
        if (key.revoked_at) return;
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: clock.now().toISOString() })
          .where('id', '=', key.id)
          .where('account_id', '=', access.account.id)
          .execute();
        await recordAuditEvent(trx, {
          accountId: access.account.id,
          eventType: 'api_key.revoked',
          actor: access.actor,
          target: { kind: 'api_key', id: key.id, label: key.name },
          payload: { kind: key.kind },
          context,
        });
      });
    },

    async listEnrollmentKeys(access: AccountAccess) {
      return db
        .selectFrom('enrollment_keys')
        .select([...enrollmentKeyColumns])
        .where('account_id', '=', access.account.id)
        .orderBy('created_at', 'desc')
        .execute();
    },

    async mintEnrollmentKey(
      access: AccountAccess,
      input: {
        name: string;
        reusable: boolean;
        maxUses: number | null;
        expiresInHours: number | undefined;
        group: string | null;
      },
      context: RequestContext,
    ) {
      const key = await db.transaction().execute((trx) =>
        issueEnrollmentKey(
          trx,
          issuerOf(access, context),
          {
            name: input.name,
            reusable: input.reusable,
            maxUses: input.maxUses,
            pinnedGroup: input.group,
            ...(input.expiresInHours !== undefined
              ? { expiresAt: new Date(clock.now().getTime() + input.expiresInHours * 3_600_000) }
              : {}),
          },
          clock,
        ),
      );
      return {
        id: key.id,
        name: input.name,
        secret: key.secret,
        reusable: input.reusable,
        expires_at: key.expiresAt,
        pinned_group: input.group,
      };
    },

    async revokeEnrollmentKey(access: AccountAccess, keyId: string, context: RequestContext) {
      await db.transaction().execute(async (trx) => {
        const key = await trx
          .updateTable('enrollment_keys')
          .set({ revoked_at: clock.now().toISOString() })
          .where('id', '=', keyId)
          .where('account_id', '=', access.account.id)
          .where('revoked_at', 'is', null)
          .returning(['id', 'name'])
          .executeTakeFirst();
        if (!key) {
          const exists = await trx
            .selectFrom('enrollment_keys')
            .select('id')
            .where('id', '=', keyId)
            .where('account_id', '=', access.account.id)
            .executeTakeFirst();
          if (!exists) throw new NotFoundError();
          return;
        }
        await recordAuditEvent(trx, {
          accountId: access.account.id,
          eventType: 'enrollment_key.revoked',
          actor: access.actor,
          target: { kind: 'enrollment_key', id: key.id, label: key.name },
          context,
        });
      });
    },
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;
