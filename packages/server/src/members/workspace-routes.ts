import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { registerAccountRoute } from '../http/account-routes.js';
import { contextOf, requireSession } from '../http/auth.js';
import type { ChangeSettings } from './workspace-settings.js';
import type { WorkspaceService } from './workspaces.js';

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

export interface WorkspaceRouteDeps {
  workspaces: Pick<WorkspaceService, 'createFor'>;
  changeSettings: ChangeSettings;
}

/** A new workspace, and the one in the path: what it is and its settings. */
export function registerWorkspaceRoutes(app: FastifyInstance, deps: WorkspaceRouteDeps): void {
  registerNewWorkspaceRoute(app, deps);
  registerWorkspaceSettingsRoutes(app, deps);
}

/** A signed-in person creates another workspace, which they own. */
function registerNewWorkspaceRoute(app: FastifyInstance, deps: WorkspaceRouteDeps): void {
  app.post('/api/v1/accounts', async (request, reply) => {
    const session = requireSession(request);
    const body = parseInput(
      z.object({ name: z.string().trim().min(1).max(80), slug: z.string().max(64).optional() }),
      request.body,
    );
    const { account } = await deps.workspaces.createFor(
      session.userId,
      { name: body.name, ...(body.slug !== undefined ? { slug: body.slug } : {}) },
      contextOf(request),
    );
    return reply.status(201).send({ id: account.id, slug: account.slug, name: account.name });
  });
}

/** The workspace in the path (with the caller's role and permissions) and its settings. */
function registerWorkspaceSettingsRoutes(app: FastifyInstance, deps: WorkspaceRouteDeps): void {
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
