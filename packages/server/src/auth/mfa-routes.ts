import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/parse-input.js';
import { contextOf, requireSession } from '../http/auth.js';
import { parseSecondFactorProof } from './mfa.js';
import type { MfaService } from './mfa-service.js';

const bodyOf = (request: FastifyRequest) => (request.body ?? {}) as Record<string, unknown>;

/** The signed-in person's TOTP, recovery codes and re-authentication. */
export function registerMfaRoutes(app: FastifyInstance, deps: { mfa: MfaService }): void {
  const { mfa } = deps;

  app.post('/api/v1/me/mfa/totp', async (request) => mfa.beginTotp(requireSession(request)));

  app.post('/api/v1/me/mfa/totp/confirm', async (request) => {
    const session = requireSession(request);
    const body = parseInput(z.object({ code: z.string().max(16) }), request.body);
    const codes = await mfa.confirmTotp(session, body.code.trim(), contextOf(request));
    return { recovery_codes: codes };
  });

  app.post('/api/v1/me/reauth', async (request) => {
    const session = requireSession(request);
    const body = bodyOf(request);
    const proof =
      typeof body.password === 'string'
        ? { password: body.password }
        : parseSecondFactorProof(body);
    await mfa.reauthenticate(session, proof, contextOf(request));
    return { status: 'reauthenticated' };
  });

  app.post('/api/v1/me/mfa/totp/remove', async (request) => {
    const session = requireSession(request);
    await mfa.removeTotp(session, parseSecondFactorProof(bodyOf(request)), contextOf(request));
    return { status: 'totp_removed' };
  });

  app.post('/api/v1/me/mfa/recovery_codes', async (request) => {
    const session = requireSession(request);
    const proof = parseSecondFactorProof(bodyOf(request));
    return { recovery_codes: await mfa.replaceRecoveryCodes(session, proof, contextOf(request)) };
  });
}
