import type { FastifyInstance } from 'fastify';
import { resolveAccountAccess } from './access/index.js';
import { accountQueries } from './accounts/index.js';
import {
  approvalExpiryJob,
  approvalQueries,
  createApprovalService,
  createGrantService,
  createReleaseChecks,
  registerApprovalRoutes,
} from './approvals/index.js';
import {
  auditJobs,
  createAuditExportService,
  listAuditCheckpoints,
  registerAuditRoutes,
} from './audit/index.js';
import {
  authQueries,
  createMfaService,
  createPasskeyService,
  createPasswordService,
  createProfileService,
  createSessionService,
  createSignInService,
  createTotpBox,
  identityCleanupJob,
  registerAuthRoutes,
  registerLinkPages,
  registerMeRoutes,
  registerMfaRoutes,
  registerPasskeyRoutes,
  registerSessionRoutes,
  resolveSession,
  signInBudget,
  signInFailureAuditJob,
} from './auth/index.js';
import { createNotifyBus, type NotifyBus } from './bus/notify-bus.js';
import {
  catalogQueries,
  createCatalogService,
  loadPublishedCatalog,
  registerCatalogRoutes,
} from './catalog/index.js';
import type { ServerConfig } from './config.js';
import { type Clock, systemClock } from './core/clock.js';
import { deriveKey } from './core/secret-box.js';
import {
  authenticateApiKey,
  createCredentialService,
  credentialQueries,
  registerCredentialRoutes,
} from './credentials/index.js';
import type { Storage } from './db/database.js';
import type { RunHooks } from './fleet/index.js';
import {
  createEnrollmentService,
  createFleetService,
  createRunnerEndpointBudget,
  createRunnerGateway,
  fleetCleanupJob,
  fleetQueries,
  type RunnerGateway,
  registerFleetRoutes,
  registerRunnerDownloadRoutes,
  registerRunnerRoutes,
} from './fleet/index.js';
import { installAccountAccess } from './http/account-routes.js';
import { installAuth } from './http/auth.js';
import { createHttpApp } from './http-app.js';
import { createJobs, type Jobs } from './jobs/periodic.js';
import { hitDurableLimit } from './limits/durable-limit.js';
import {
  createMailOutbox,
  createMailTransport,
  type MailOutbox,
  registerDevMailboxRoutes,
} from './mail/index.js';
import {
  createClientRegistry,
  createCursors,
  createMcpTools,
  registerMcpRoutes,
  resolveKeyAccess,
} from './mcp/index.js';
import {
  createMemberService,
  createWorkspaceService,
  memberQueries,
  personAudit,
  registerMemberRoutes,
  registerWorkspaceRoutes,
  settingsChanger,
} from './members/index.js';
import {
  createDefaultPolicy,
  createPolicyDecider,
  createPolicyService,
  registerPolicyRoutes,
} from './policy/index.js';
import {
  createRunHooks,
  createRunRelease,
  createRunService,
  dispatchTimeoutJob,
  type RunService,
  registerRunRoutes,
} from './runs/index.js';

/*
 * The composition root: the one place that builds every service, registers
 * every route and starts every job. Read it top to bottom to see the whole
 * graph; domains only declare what they need (their deps and ports).
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** Queue mail in your own transaction: `app.mailOutbox.enqueue(trx, …)`, then `kick()` after commit. */
    mailOutbox: MailOutbox;
    /** This node's runner sockets (their error counts, local runner ids). */
    runnerGateway: RunnerGateway;
  }
}

/** How often each node looks for due mail (it is also woken after each commit that queues some). */
const MAIL_DELIVERY_INTERVAL_MS = 2_000;
/** Requests per minute one MCP bearer may make. */
const MCP_REQUESTS_PER_MINUTE = 300;
const SERVER_VERSION = '0.1.0';

export interface AppDependencies {
  config: ServerConfig;
  storage: Storage;
  clock?: Clock;
  /** Where logs go; defaults to stdout. Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  /** Tests may stand in for the runs domain behind the runner gateway. */
  runHooks?: RunHooks;
  /** The audit checkpoint and retention sweeps (the server turns them on; most tests leave them off). */
  auditSweeps?: boolean;
}

/** What every wiring step below shares. */
interface Wiring {
  app: FastifyInstance;
  config: ServerConfig;
  db: Storage['db'];
  clock: Clock;
  bus: NotifyBus;
  jobs: Jobs;
}

/** Assembles the HTTP application; listening is the caller's job. */
export async function createApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, storage, clock = systemClock } = deps;
  const app = await createHttpApp({ ...deps, clock });
  const bus = createNotifyBus(storage, app.log);
  app.addHook('onClose', () => bus.close());
  const jobs = createJobs({ db: storage.db, log: app.log });
  const wiring: Wiring = { app, config, db: storage.db, clock, bus, jobs };

  installAccountAccess(app, (principal, slug) =>
    resolveAccountAccess(storage.db, principal, slug, clock),
  );
  const outbox = await wireIdentity(wiring);
  wireAudit(wiring, deps.auditSweeps ?? false);
  await wireFleet(wiring, deps.runHooks);
  wireMcp(wiring, wireRunsAndApprovals(wiring, outbox));

  jobs.start(outbox.deliveryJob(MAIL_DELIVERY_INTERVAL_MS));
  jobs.start(identityCleanupJob({ clock }));
  jobs.start(signInFailureAuditJob({ personAudit }));
  jobs.start(fleetCleanupJob({ clock, accounts: accountQueries, catalog: catalogQueries }));
  jobs.start(dispatchTimeoutJob({ bus, clock, timing: config.timing, fleet: fleetQueries }));
  // Added last so it runs first on close (Fastify runs onClose hooks in reverse): the
  // jobs stop before the bus and the mail transport they use are closed.
  app.addHook('onClose', () => jobs.stop());
  return app;
}

/** People, sessions, MFA, mail, workspaces, members and credentials. */
async function wireIdentity(wiring: Wiring): Promise<MailOutbox> {
  const { app, config, db, clock, bus } = wiring;
  const { baseUrl, secureCookies } = config;
  const trustsProxy = config.trustProxy !== false;
  await installAuth(app, {
    resolveSession: (token) => resolveSession(db, token, clock),
    authenticateApiKey: (secret) => authenticateApiKey(db, secret, clock),
    secretKey: config.secretKey,
    baseUrl,
    secureCookies,
  });

  const outbox = wireMail(wiring);

  const totpBox = createTotpBox(config.secretKey);
  const workspaces = createWorkspaceService({
    db,
    clock,
    accounts: accountQueries,
    auth: authQueries,
    createDefaultPolicy,
  });
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
  registerWorkspaceRoutes(app, {
    workspaces,
    changeSettings: settingsChanger({ db, accounts: accountQueries }),
  });
  registerMemberRoutes(app, { budget, secureCookies, members });
  registerCredentialRoutes(app, { credentials });
  return outbox;
}

/** The mail outbox (shared with approvals) and the loopback-only dev mailbox. */
function wireMail({ app, config, db, clock }: Wiring): MailOutbox {
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
  registerDevMailboxRoutes(app, {
    outbox,
    enabled: config.mail.devMailbox,
    trustsProxy: config.trustProxy !== false,
  });

  return outbox;
}

/** The audit export, checkpoints and signing key routes, and (on a server) the audit sweeps. */
function wireAudit({ app, config, db, clock, jobs }: Wiring, sweeps: boolean): void {
  const { signingKey } = config;
  registerAuditRoutes(app, {
    exports: createAuditExportService({ db, clock }),
    checkpoints: (accountId) => listAuditCheckpoints({ db, signingKey, accountId }),
    authenticateApiKey: (secret) => authenticateApiKey(db, secret, clock),
    clock,
    baseUrl: config.baseUrl,
    signingKey,
  });
  if (!sweeps) return;
  for (const job of auditJobs({ signingKey, clock, config: config.audit })) jobs.start(job);
}

/** Runner enrollment and tokens, the runner WebSocket gateway, runners and pack trust. */
async function wireFleet(wiring: Wiring, runHooks: RunHooks | undefined): Promise<void> {
  const { app, config, db, clock, bus } = wiring;
  const published = await loadPublishedCatalog(config.catalogFile);
  const enrollment = createEnrollmentService({
    db,
    clock,
    bus,
    accounts: accountQueries,
    tokenTtlMs: config.timing.runnerTokenTtlMs,
  });
  const gateway = createRunnerGateway({
    db,
    clock,
    bus,
    runHooks:
      runHooks ??
      createRunHooks({
        db,
        bus,
        clock,
        secretKey: config.secretKey,
        sentDeadlineMs: config.timing.sentDeadlineMs,
        log: app.log,
        fleet: fleetQueries,
      }),
    catalog: published,
    timing: config.timing,
    log: app.log,
  });
  await gateway.start();
  app.decorate('runnerGateway', gateway);
  await registerRunnerRoutes(app, {
    enrollment,
    budget: createRunnerEndpointBudget({ db, clock }),
    gateway,
    limits: config.rateLimits,
  });
  const fleet = createFleetService({
    db,
    clock,
    bus,
    accounts: accountQueries,
    catalog: catalogQueries,
  });
  registerFleetRoutes(app, { fleet });
  registerRunnerDownloadRoutes(app, config.runnerDownload);
  const catalog = createCatalogService({ db, clock, bus, runners: fleetQueries });
  registerCatalogRoutes(app, { catalog });
}

/** Policy, approvals and grants, and runs (approvals release runs through a port runs implement). */
function wireRunsAndApprovals(
  { app, config, db, clock, bus, jobs }: Wiring,
  outbox: MailOutbox,
): RunService {
  const decidePolicy = createPolicyDecider({ accounts: accountQueries });
  const approvals = createApprovalService({
    db,
    clock,
    bus,
    outbox,
    baseUrl: config.baseUrl,
    runRelease: createRunRelease({ bus, clock }),
    approvalTtlMs: config.timing.approvalTtlMs,
    checks: createReleaseChecks({ fleet: fleetQueries, catalog: catalogQueries }),
    decidePolicy,
    accounts: accountQueries,
    auth: authQueries,
    members: memberQueries,
    credentials: credentialQueries,
  });
  const policies = createPolicyService({
    db,
    clock,
    accounts: accountQueries,
    fleet: fleetQueries,
    catalog: catalogQueries,
  });
  registerPolicyRoutes(app, { policies });
  registerApprovalRoutes(app, { approvals, grants: createGrantService({ db, clock }) });
  jobs.start(approvalExpiryJob({ approvals, intervalMs: config.timing.sweepIntervalMs }));

  const runs = createRunService({
    db,
    bus,
    clock,
    secretKey: config.secretKey,
    approvals,
    decidePolicy,
    fleet: fleetQueries,
    catalog: catalogQueries,
  });
  registerRunRoutes(app, { runs });
  return runs;
}

/** The MCP endpoint and its eight tools, over the runs service and the catalog. */
function wireMcp({ app, config, db, clock }: Wiring, runs: RunService): void {
  const tools = createMcpTools({
    db,
    clock,
    baseUrl: config.baseUrl,
    catalog: catalogQueries,
    fleet: fleetQueries,
    credentials: credentialQueries,
    approvals: approvalQueries,
    runs,
    cursors: createCursors(deriveKey(config.secretKey, 'mcp-cursors'), () => clock.now()),
    waits: new Map(),
  });
  const budget = { name: 'mcp', max: MCP_REQUESTS_PER_MINUTE, windowMs: 60_000 };
  registerMcpRoutes(app, {
    tools,
    clients: createClientRegistry(),
    baseUrl: config.baseUrl,
    version: SERVER_VERSION,
    authenticateApiKey: (secret) => authenticateApiKey(db, secret, clock),
    resolveAccess: (principal) =>
      resolveKeyAccess({ db, clock, accounts: accountQueries }, principal),
    hitBudget: (keyId) => hitDurableLimit(db, budget, keyId, clock),
  });
}
