import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidParamsError } from '../core/errors.js';
import { GROUP_NAME, parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import type { CredentialService } from './service.js';

export interface CredentialRouteDeps {
  credentials: CredentialService;
}

const idParam = z.object({ slug: z.string(), id: z.string().regex(UUID_PATTERN, 'not an id') });

/** API keys and runner enrollment keys. */
export function registerCredentialRoutes(app: FastifyInstance, deps: CredentialRouteDeps): void {
  registerApiKeyRoutes(app, deps);
  registerEnrollmentKeyRoutes(app, deps);
}

/** API keys: list, mint, rotate, revoke. */
function registerApiKeyRoutes(app: FastifyInstance, { credentials }: CredentialRouteDeps): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);

  route({
    method: 'GET',
    path: '/api-keys',
    permission: 'api_keys.mint_own',
    sessionOnly: true,
    handler: async (_request, access) => ({ api_keys: await credentials.listApiKeys(access) }),
  });
  route({
    method: 'POST',
    path: '/api-keys',
    permission: 'api_keys.mint_own',
    sessionOnly: true,
    status: 201,
    handler: async (request, access, context) => {
      const body = parseInput(
        z.strictObject({
          kind: z.enum(['mcp', 'audit_export']).default('mcp'),
          name: z.string().trim().min(1).max(80),
          expires_in_days: z.number().int().min(1).max(365).nullable().optional(),
        }),
        request.body,
      );
      if (body.kind === 'mcp' && body.expires_in_days === null) {
        throw new InvalidParamsError('mcp keys always expire: give expires_in_days (1–365).');
      }
      const key = await credentials.mintApiKey(
        access,
        { kind: body.kind, name: body.name, expiresInDays: body.expires_in_days },
        context,
      );
      return { api_key: key };
    },
  });
  route({
    method: 'POST',
    path: '/api-keys/:id/rotate',
    permission: 'api_keys.mint_own',
    sessionOnly: true,
    status: 201,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      return { api_key: await credentials.rotateApiKey(access, id, context) };
    },
  });
  route({
    method: 'DELETE',
    path: '/api-keys/:id',
    permission: 'api_keys.mint_own',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      await credentials.revokeApiKey(access, id, context);
    },
  });
}

/** Enrollment keys: list, mint, revoke. */
function registerEnrollmentKeyRoutes(
  app: FastifyInstance,
  { credentials }: CredentialRouteDeps,
): void {
  const route = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);

  route({
    method: 'GET',
    path: '/enrollment-keys',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (_request, access) => ({
      enrollment_keys: await credentials.listEnrollmentKeys(access),
    }),
  });
  route({
    method: 'POST',
    path: '/enrollment-keys',
    permission: 'fleet.manage',
    sessionOnly: true,
    status: 201,
    handler: async (request, access, context) => {
      const body = parseInput(
        z
          .strictObject({
            name: z.string().trim().min(1).max(80).default('enrollment key'),
            reusable: z.boolean().default(false),
            max_uses: z.number().int().min(1).max(100_000).nullable().default(null),
            expires_in_hours: z
              .number()
              .int()
              .min(1)
              .max(24 * 365)
              .optional(),
            group: z
              .string()
              .regex(GROUP_NAME, 'lowercase letters, digits, . _ -')
              .nullable()
              .default(null),
          })
          .refine((b) => b.reusable || b.max_uses === null, 'max_uses applies to reusable keys'),
        request.body,
      );
      const key = await credentials.mintEnrollmentKey(
        access,
        {
          name: body.name,
          reusable: body.reusable,
          maxUses: body.max_uses,
          expiresInHours: body.expires_in_hours,
          group: body.group,
        },
        context,
      );
      return { enrollment_key: key };
    },
  });
  route({
    method: 'DELETE',
    path: '/enrollment-keys/:id',
    permission: 'fleet.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      await credentials.revokeEnrollmentKey(access, id, context);
    },
  });
}
