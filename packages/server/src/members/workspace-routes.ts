import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { contextOf, requireSession } from '../http/auth.js';
import type { WorkspaceService } from './workspaces.js';

/** A signed-in person creates another workspace, which they own. */
export function registerWorkspaceRoutes(
  app: FastifyInstance,
  deps: { workspaces: Pick<WorkspaceService, 'createFor'> },
): void {
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
