import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { registerAccountRoute } from '../http/account-routes.js';
import type { ChangeSettings } from './settings.js';

export interface AccountRouteDeps {
  changeSettings: ChangeSettings;
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
      return deps.changeSettings(access, parseInput(settingsPatch, request.body), context);
    },
  });
}
