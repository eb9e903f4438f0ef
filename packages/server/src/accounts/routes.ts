import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/record.js';
import type { Clock } from '../core/clock.js';
import { ForbiddenError } from '../core/errors.js';
import { parseInput } from '../core/parse-input.js';
import type { Database } from '../db/schema.js';
import { registerAccountRoute } from '../http/account-routes.js';
import type { AccountSettings } from './tables.js';

export interface AccountRouteDeps {
  db: Kysely<Database>;
  clock: Clock;
}

const settingsPatch = z
  .strictObject({
    name: z.string().trim().min(1).max(80).optional(),
    require_mfa: z.boolean().optional(),
    max_grant_lifetime_seconds: z
      .number()
      .int()
      .min(0)
      .max(90 * 86_400)
      .nullable()
      .optional(),
    runner_inactive_retention_hours: z
      .number()
      .int()
      .min(1)
      .max(24 * 3650)
      .nullable()
      .optional(),
    pack_unseen_retention_days: z.number().int().min(1).max(3650).nullable().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'nothing to change');

export function registerAccountRoutes(app: FastifyInstance, deps: AccountRouteDeps): void {
  const { db } = deps;

  registerAccountRoute(app, {
    method: 'GET',
    path: '',
    permission: 'account.view',
    handler: async (_request, access) => ({
      account: {
        id: access.account.id,
        slug: access.account.slug,
        name: access.account.name,
        plan: access.account.plan,
        settings: access.account.settings,
        created_at: access.account.created_at,
      },
      membership: { id: access.membership.id, role: access.membership.role },
      permissions: [...access.permissions].sort(),
    }),
  });

  registerAccountRoute(app, {
    method: 'PATCH',
    path: '/settings',
    permission: 'account.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { name, ...patch } = parseInput(settingsPatch, request.body);
      const principal = access.principal;
      if (patch.require_mfa && principal.kind === 'session' && !principal.mfaVerified) {
        throw new ForbiddenError(
          'Set up multi-factor authentication yourself before requiring it of everyone.',
          'mfa_required',
        );
      }
      const before = access.account.settings;
      const settings: AccountSettings = { ...before, ...patch };
      const changed = Object.fromEntries(
        Object.entries(patch).filter(([k, v]) => before[k as keyof AccountSettings] !== v),
      );
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('accounts')
          .set({ settings: JSON.stringify(settings), ...(name ? { name } : {}) })
          .where('id', '=', access.account.id)
          .execute();
        await recordAuditEvent(trx, {
          accountId: access.account.id,
          eventType: 'account.settings_changed',
          actor: access.actor,
          target: { kind: 'account', id: access.account.id, label: access.account.slug },
          payload: {
            changed,
            ...(name && name !== access.account.name
              ? { name: { from: access.account.name, to: name } }
              : {}),
          },
          context,
        });
      });
      return { settings, name: name ?? access.account.name };
    },
  });
}
