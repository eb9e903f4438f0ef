import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput, UUID_PATTERN } from '../core/parse-input.js';
import { contextOf, requireSession } from '../http/auth.js';
import type { SessionService } from './session-service.js';

const idParam = z.object({ id: z.string().regex(UUID_PATTERN, 'not an id') });

/** The signed-in person's sessions: list, revoke one, revoke all others. */
export function registerSessionRoutes(
  app: FastifyInstance,
  deps: { sessions: SessionService },
): void {
  app.get('/api/v1/me/sessions', async (request) => ({
    sessions: await deps.sessions.list(requireSession(request)),
  }));

  app.delete('/api/v1/me/sessions/:id', async (request) => {
    const session = requireSession(request);
    const { id } = parseInput(idParam, request.params);
    await deps.sessions.revoke(session, id, contextOf(request));
    return { ok: true };
  });

  app.post('/api/v1/me/sessions/revoke_others', async (request) => {
    const session = requireSession(request);
    return { revoked: await deps.sessions.revokeOthers(session, contextOf(request)) };
  });
}
