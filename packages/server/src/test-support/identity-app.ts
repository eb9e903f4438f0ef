import type { FastifyInstance } from 'fastify';
import { createApp } from '../app.js';
import { ManualClock } from '../clock.js';
import type { ServerConfig } from '../config.js';
import type { Storage } from '../db/database.js';
import { Browser } from './browser.js';
import { testConfig } from './config.js';
import { openTestStorage } from './database.js';
import { type SmtpSink, startSmtpSink } from './smtp-sink.js';

export interface IdentityHarness {
  app: FastifyInstance;
  storage: Storage;
  clock: ManualClock;
  smtp: SmtpSink;
  config: ServerConfig;
  url: string;
  browser(): Browser;
  close(): Promise<void>;
}

/** The real app on a real port, mail through a real SMTP sink, time on a manual clock. */
export async function startIdentityHarness(
  overrides: Partial<ServerConfig> = {},
): Promise<IdentityHarness> {
  const smtp = await startSmtpSink();
  const storage = await openTestStorage();
  const clock = new ManualClock(new Date());
  const config = testConfig({
    mail: {
      transport: { kind: 'smtp', url: smtp.url },
      from: 'emisar <no-reply@emisar.test>',
      devMailbox: false,
    },
    ...overrides,
  });
  const app = await createApp({ config, storage, clock });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    storage,
    clock,
    smtp,
    config,
    url,
    browser: () => new Browser(url, config.baseUrl),
    async close() {
      await app.close();
      await storage.close();
      await smtp.close();
    },
  };
}

/** The six-character code from a sign-in email, checking the link carries it in the fragment. */
export function signInCodeFrom(text: string, baseUrl: string): string {
  const code = /sign-in code is ([2-9A-Z]{6})/.exec(text)?.[1];
  if (!code) throw new Error('no sign-in code in the email');
  if (!text.includes(`${baseUrl}/sign_in/code#${code}`))
    throw new Error('link does not carry the code in the fragment');
  return code;
}

/** The secret after `#` in the first link to `page`. */
export function fragmentSecretFrom(text: string, page: string): string {
  const match = new RegExp(`${page}#([A-Za-z0-9_-]+)`).exec(text);
  if (!match) throw new Error(`no ${page} link in the email`);
  return match[1]!;
}

/** A new user + workspace, signed in through the emailed code; returns their browser. */
export async function signUp(
  h: IdentityHarness,
  email: string,
  workspace: string,
): Promise<Browser> {
  const browser = h.browser();
  const response = await browser.request('POST', '/api/v1/sign_up', {
    email,
    workspace_name: workspace,
  });
  if (response.status !== 202) throw new Error(`sign-up failed: ${JSON.stringify(response.body)}`);
  const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
  const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
  if (signedIn.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(signedIn.body)}`);
  return browser;
}

/** Signs an existing user in with an emailed code in a fresh browser. */
export async function signInWithCode(h: IdentityHarness, email: string): Promise<Browser> {
  const browser = h.browser();
  await browser.request('POST', '/api/v1/sign_in/code/request', { email });
  const code = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
  const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
  if (signedIn.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(signedIn.body)}`);
  return browser;
}
