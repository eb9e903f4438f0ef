import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SignInBudget } from '../auth/index.js';
import { emailSchema } from '../auth/index.js';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { ROLES } from '../core/roles.js';
import { type AccountRouteSpec, registerAccountRoute } from '../http/account-routes.js';
import { clearSignInNonceCookie, contextOf, setSessionCookie } from '../http/auth.js';
import type { MemberService } from './service.js';

export interface MemberRouteDeps {
  /** Accepting an invitation can sign in: it spends the per-client sign-in budget. */
  budget: SignInBudget;
  secureCookies: boolean;
  members: MemberService;
}

const idParam = z.object({ slug: z.string(), id: z.string().regex(UUID_PATTERN, 'not an id') });
const role = z.enum(ROLES);
const runnerAccess = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({ mode: z.literal('all') }),
  z.strictObject({
    mode: z.literal('restricted'),
    groups: z.array(z.string().min(1).max(64)).max(100).default([]),
    runner_ids: z.array(z.string().regex(UUID_PATTERN)).max(1000).default([]),
  }),
]);
const packAccess = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('all') }),
  z.strictObject({
    mode: z.literal('restricted'),
    pack_ids: z.array(z.string().min(1).max(128)).max(1000),
  }),
]);

/** Team management and invitations. */
export function registerMemberRoutes(app: FastifyInstance, deps: MemberRouteDeps): void {
  registerTeamRoutes(app, deps);
  registerInvitationRoutes(app, deps);
}

/** Members: list, change role or access, suspend, reset credentials, remove. */
function registerTeamRoutes(app: FastifyInstance, { members }: MemberRouteDeps): void {
  const team = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);

  team({
    method: 'GET',
    path: '/members',
    permission: 'account.view',
    sessionOnly: true,
    handler: async (_request, access) => ({ members: await members.list(access) }),
  });
  team({
    method: 'PATCH',
    path: '/members/:id',
    permission: 'account.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      const change = parseInput(
        z
          .strictObject({
            role: role.optional(),
            runner_access: runnerAccess.optional(),
            pack_access: packAccess.optional(),
          })
          .refine((c) => c.role || c.runner_access || c.pack_access, 'nothing to change'),
        request.body,
      );
      return { member: await members.update(access, id, change, context) };
    },
  });
  for (const [verb, suspended] of [
    ['suspend', true],
    ['unsuspend', false],
  ] as const) {
    team({
      method: 'POST',
      path: `/members/:id/${verb}`,
      permission: 'account.manage',
      sessionOnly: true,
      handler: async (request, access, context) => {
        const { id } = parseInput(idParam, request.params);
        await members.setSuspended(access, id, suspended, context);
      },
    });
  }
  for (const [verb, what] of [
    ['end_sessions', 'sessions'],
    ['reset_mfa', 'mfa'],
  ] as const) {
    team({
      method: 'POST',
      path: `/members/:id/${verb}`,
      permission: 'account.manage',
      sessionOnly: true,
      handler: async (request, access, context) => {
        const { id } = parseInput(idParam, request.params);
        await members.resetCredentials(access, id, what, context);
      },
    });
  }
  team({
    method: 'DELETE',
    path: '/members/:id',
    permission: 'account.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      await members.remove(access, id, context);
    },
  });
}

/** Invitations: list, send, revoke, and the invitee's acceptance. */
function registerInvitationRoutes(app: FastifyInstance, deps: MemberRouteDeps): void {
  const { members } = deps;
  const invitations = (spec: AccountRouteSpec) => registerAccountRoute(app, spec);

  invitations({
    method: 'GET',
    path: '/invitations',
    permission: 'account.manage',
    sessionOnly: true,
    handler: async (_request, access) => ({ invitations: await members.listInvitations(access) }),
  });
  invitations({
    method: 'POST',
    path: '/invitations',
    permission: 'account.manage',
    sessionOnly: true,
    status: 201,
    handler: async (request, access, context) => {
      const body = parseInput(z.strictObject({ email: emailSchema, role }), request.body);
      return { invitation: await members.invite(access, body, context) };
    },
  });
  invitations({
    method: 'DELETE',
    path: '/invitations/:id',
    permission: 'account.manage',
    sessionOnly: true,
    handler: async (request, access, context) => {
      const { id } = parseInput(idParam, request.params);
      await members.revokeInvitation(access, id, context);
    },
  });

  /** The emailed link's token, POSTed by the accept page (new or existing user); it can sign in. */
  app.post('/api/v1/invitations/accept', deps.budget, async (request, reply) => {
    const body = parseInput(z.object({ token: z.string().min(1).max(200) }), request.body);
    const principal = request.principal;
    const session = principal?.kind === 'session' && principal.mfaSatisfied ? principal : null;
    const result = await members.accept(body.token, session, contextOf(request));
    if (result.session) {
      setSessionCookie(reply, result.session.sessionToken, deps.secureCookies);
      clearSignInNonceCookie(reply, deps.secureCookies);
    }
    return { account: result.accountSlug, status: result.session?.status ?? 'signed_in' };
  });
}
