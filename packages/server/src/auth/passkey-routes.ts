import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { contextOf, requireSession } from '../http/auth.js';
import type { PasskeyService } from './passkeys.js';

const idParam = z.object({ id: z.string().regex(UUID_PATTERN, 'not an id') });

/** The signed-in person's passkeys: list, register, remove. */
export function registerPasskeyRoutes(
  app: FastifyInstance,
  deps: { passkeys: PasskeyService },
): void {
  const { passkeys } = deps;

  app.get('/api/v1/me/passkeys', async (request) => {
    const session = requireSession(request);
    return { passkeys: await passkeys.list(session.userId) };
  });

  app.post('/api/v1/me/passkeys/options', async (request) =>
    passkeys.registrationOptions(requireSession(request)),
  );

  app.post('/api/v1/me/passkeys', async (request, reply) => {
    const session = requireSession(request);
    const body = parseInput(
      z.object({
        challenge_id: z.string().max(64),
        name: z.string().trim().min(1).max(80).default('Passkey'),
        response: z.looseObject({ id: z.string().max(1024) }),
      }),
      request.body,
    );
    const created = await passkeys.register(
      session,
      {
        challengeId: body.challenge_id,
        name: body.name,
        response: body.response as unknown as RegistrationResponseJSON,
      },
      contextOf(request),
    );
    return reply.status(201).send(created);
  });

  app.delete('/api/v1/me/passkeys/:id', async (request) => {
    const session = requireSession(request);
    const { id } = parseInput(idParam, request.params);
    await passkeys.remove(session, id, contextOf(request));
    return { ok: true };
  });
}
