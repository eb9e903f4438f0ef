import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { createApp } from '../app.js';
import { createNotifyBus, type NotifyBus } from '../bus/notify-bus.js';
import type { ServerConfig } from '../config.js';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { RunHooks } from '../fleet/run-hooks.js';
import { Browser } from './browser.js';
import { testConfig } from './config.js';
import { openTestStorage } from './database.js';
import { type SmtpSink, signInCodeFrom, startSmtpSink } from './smtp-sink.js';

export interface TestApp {
  app: FastifyInstance;
  /** Log lines written so far (none unless `logLevel` is overridden: tests default to silent). */
  logs(): Record<string, unknown>[];
  storage: Storage;
  db: Kysely<Database>;
  clock: ManualClock;
  smtp: SmtpSink;
  config: ServerConfig;
  url: string;
  /** A notify bus of the test's own (to publish or listen as another node would). */
  bus: NotifyBus;
  browser(): Browser;
  close(): Promise<void>;
}

export interface TestAppOptions {
  config?: Partial<ServerConfig>;
  /** Another node's storage to share (it stays open when this app closes); else a fresh database. */
  storage?: Storage;
  /** A stand-in for the runs domain behind the runner gateway. */
  runHooks?: RunHooks;
}

/**
 * The real app on a real port: a fresh database, mail through a real SMTP
 * sink, time on a manual clock. Every server suite that needs HTTP starts here.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const smtp = await startSmtpSink();
  const storage = options.storage ?? (await openTestStorage());
  const clock = new ManualClock(new Date());
  const config = testConfig({
    mail: {
      transport: { kind: 'smtp', url: smtp.url },
      from: 'emisar <no-reply@emisar.test>',
      devMailbox: false,
    },
    ...options.config,
  });
  let logged = '';
  const logStream = new PassThrough().on('data', (chunk) => {
    logged += chunk;
  });
  const app = await createApp({
    config,
    storage,
    clock,
    logStream,
    ...(options.runHooks ? { runHooks: options.runHooks } : {}),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const bus = createNotifyBus(storage);
  return {
    app,
    logs: () =>
      logged
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    storage,
    db: storage.db,
    clock,
    smtp,
    config,
    url,
    bus,
    browser: () => new Browser(url, config.baseUrl),
    async close() {
      await bus.close();
      await app.close();
      if (!options.storage) await storage.close();
      await smtp.close();
    },
  };
}

export interface SignedUpOwner {
  browser: Browser;
  accountId: string;
  slug: string;
  /** `/api/v1/accounts/<slug>`: where the workspace's routes live. */
  base: string;
  userId: string;
  membershipId: string;
}

/** A new user + workspace, signed in through the emailed code; returns their browser. */
export async function signUp(h: TestApp, email: string, workspace: string): Promise<Browser> {
  return (await signUpOwner(h, email, workspace)).browser;
}

/** A new user + workspace, signed in through the emailed code in a fresh browser. */
export async function signUpOwner(
  h: TestApp,
  email: string,
  workspace: string,
): Promise<SignedUpOwner> {
  const browser = h.browser();
  const response = await browser.request('POST', '/api/v1/sign_up', {
    email,
    workspace_name: workspace,
  });
  if (response.status !== 202) throw new Error(`sign-up failed: ${JSON.stringify(response.body)}`);
  const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
  const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
  if (signedIn.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(signedIn.body)}`);
  const row = await h.db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .select(['a.id as accountId', 'a.slug', 'u.id as userId', 'm.id as membershipId'])
    .where('u.email', '=', email)
    .where('a.name', '=', workspace)
    .executeTakeFirstOrThrow();
  return { browser, ...row, base: `/api/v1/accounts/${row.slug}` };
}

/** Signs an existing user in with an emailed code in a fresh browser. */
export async function signInWithCode(h: TestApp, email: string): Promise<Browser> {
  const browser = h.browser();
  await browser.request('POST', '/api/v1/sign_in/code/request', { email });
  const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
  const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
  if (signedIn.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(signedIn.body)}`);
  return browser;
}
