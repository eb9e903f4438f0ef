import type { FastifyInstance } from 'fastify';
import { registerLinkPages } from '../auth/link-pages.js';
import { registerMeRoutes } from '../auth/me-routes.js';
import { createTotpBox } from '../auth/mfa.js';
import { registerMfaRoutes } from '../auth/mfa-routes.js';
import { createMfaService } from '../auth/mfa-service.js';
import { registerPasskeyRoutes } from '../auth/passkey-routes.js';
import { createPasskeyService } from '../auth/passkeys.js';
import { createPasswordService } from '../auth/password.js';
import { createProfileService } from '../auth/profile.js';
import { authQueries } from '../auth/queries.js';
import { signInBudget } from '../auth/rate-limits.js';
import { registerAuthRoutes } from '../auth/routes.js';
import { registerSessionRoutes } from '../auth/session-routes.js';
import { createSessionService } from '../auth/session-service.js';
import { createSignInService } from '../auth/sign-in.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { ServerConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import { credentialQueries } from '../credentials/queries.js';
import { registerCredentialRoutes } from '../credentials/routes.js';
import { createCredentialService } from '../credentials/service.js';
import type { Storage } from '../db/database.js';
import { installAuth } from '../http/auth.js';
import { registerDevMailboxRoutes } from '../mail/dev-mailbox-routes.js';
import { createMailOutbox, type MailOutbox } from '../mail/outbox.js';
import { createMailTransport } from '../mail/transports.js';
import { personAudit } from '../members/person-audit.js';
import { registerMemberRoutes } from '../members/routes.js';
import { createMemberService } from '../members/service.js';
import { registerWorkspaceRoutes } from '../members/workspace-routes.js';
import { settingsChanger } from '../members/workspace-settings.js';
import { createWorkspaceService } from '../members/workspaces.js';
import { createDefaultPolicy } from '../policy/default-policy.js';
import { accountQueries } from './queries.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Queue mail in your own transaction: `app.mailOutbox.enqueue(trx, …)`, then `kick()` after commit. */
    mailOutbox: MailOutbox;
  }
}

export interface IdentityOptions {
  config: Pick<ServerConfig, 'baseUrl' | 'secretKey' | 'secureCookies' | 'mail' | 'trustProxy'>;
  storage: Pick<Storage, 'db'>;
  clock: Clock;
  /** Membership changes are announced on it (open event streams re-check their access). */
  bus: NotifyBus;
}

export interface Identity {
  outbox: MailOutbox;
}

/**
 * People, sessions, MFA, members and credentials: the auth hook (session
 * cookie or Bearer API key, CSRF), the email outbox, the dev
 * mailbox, and every /api/v1 route of the identity domains.
 */
export async function registerIdentity(
  app: FastifyInstance,
  { config, storage, clock, bus }: IdentityOptions,
): Promise<Identity> {
  const { db } = storage;
  const { baseUrl, secureCookies } = config;
  await installAuth(app, { db, clock, secretKey: config.secretKey, baseUrl, secureCookies });

  const outbox = createMailOutbox({
    db,
    clock,
    secretKey: config.secretKey,
    transport: createMailTransport(config.mail.transport),
    from: config.mail.from,
    log: app.log,
  });
  app.decorate('mailOutbox', outbox);
  app.addHook('onClose', () => outbox.close());
  const trustsProxy = config.trustProxy !== false;
  registerDevMailboxRoutes(app, { outbox, enabled: config.mail.devMailbox, trustsProxy });

  const totpBox = createTotpBox(config.secretKey);
  const workspaces = createWorkspaceService({ db, clock, createDefaultPolicy });
  const signIn = createSignInService({
    db,
    clock,
    outbox,
    baseUrl,
    totpBox,
    personAudit,
    createWorkspace: workspaces.create,
  });
  const passwords = createPasswordService({ db, clock, outbox, baseUrl, personAudit });
  const passkeys = createPasskeyService({ db, clock, baseUrl, signIn, personAudit });
  const members = createMemberService({
    db,
    clock,
    bus,
    outbox,
    baseUrl,
    signIn,
    accounts: accountQueries,
    auth: authQueries,
    revokeMemberKeys: credentialQueries.revokeMembershipKeys,
  });
  const credentials = createCredentialService({ db, clock });

  const sessions = createSessionService({ db, clock, personAudit });
  const mfa = createMfaService({ db, clock, totpBox, personAudit });
  const profile = createProfileService({ db, listWorkspaces: workspaces.list });
  const budget = signInBudget({ db, clock });

  registerAuthRoutes(app, {
    budget,
    sessions,
    secureCookies,
    trustsProxy,
    signIn,
    passwords,
    passkeys,
  });
  registerLinkPages(app);
  registerMeRoutes(app, { profile, passwords });
  registerSessionRoutes(app, { sessions });
  registerMfaRoutes(app, { mfa });
  registerPasskeyRoutes(app, { passkeys });
  registerWorkspaceRoutes(app, { workspaces, changeSettings: settingsChanger(db) });
  registerMemberRoutes(app, { budget, secureCookies, members });
  registerCredentialRoutes(app, { credentials });
  return { outbox };
}
