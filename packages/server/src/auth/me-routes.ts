import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { contextOf, requireSession } from '../http/auth.js';
import { type PasswordService, passwordSchema } from './password.js';
import type { ProfileService } from './profile.js';
import { fullNameSchema } from './users.js';

/** The signed-in person's own profile, email confirmation and password. */
export function registerMeRoutes(
  app: FastifyInstance,
  deps: { profile: ProfileService; passwords: PasswordService },
): void {
  app.get('/api/v1/me', async (request) =>
    deps.profile.describe(requireSession(request, { allowPendingMfa: true })),
  );

  app.patch('/api/v1/me', async (request) => {
    const session = requireSession(request);
    const body = parseInput(z.object({ full_name: fullNameSchema.nullable() }), request.body);
    await deps.profile.rename(session.userId, body.full_name);
    return { ok: true };
  });

  app.post('/api/v1/me/confirmation', async (request, reply) => {
    await deps.passwords.resendConfirmation(requireSession(request));
    return reply.status(202).send({ status: 'email_sent' });
  });

  app.post('/api/v1/me/password', async (request) => {
    const session = requireSession(request);
    const body = parseInput(
      z.object({ password: passwordSchema, current_password: z.string().max(256).nullish() }),
      request.body,
    );
    await deps.passwords.setPassword(
      session,
      { password: body.password, currentPassword: body.current_password ?? null },
      contextOf(request),
    );
    return { status: 'password_set' };
  });
}
