import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../test-support/browser.js';
import { createTestDatabase, type TestDatabase } from '../test-support/database.js';
import { runServerCommand, startServerProcess } from '../test-support/server-process.js';

/**
 * The built server as a real process with no email transport: sign up, read
 * the code from the dev mailbox, sign in; the log points at the mailbox and
 * never carries the code. Then `bootstrap` prints a link that works once.
 */
describe('first sign-in on a fresh install (real process, dev mailbox)', () => {
  let database: TestDatabase;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = database.url
      ? {
          DATABASE_URL: database.url,
          EMISAR_SECRET_KEY: randomBytes(32).toString('base64'),
          EMISAR_SIGNING_KEY: generateKeyPairSync('ed25519')
            .privateKey.export({ format: 'pem', type: 'pkcs8' })
            .toString(),
        }
      : { EMISAR_DATA_DIR: await mkdtemp(path.join(tmpdir(), 'emisar-identity-')) };
    env.EMISAR_BASE_URL = 'http://localhost:8080';
  });
  afterAll(() => database.drop());

  it('signs up through the dev mailbox and signs in with a bootstrap link', async () => {
    const server = await startServerProcess(env);
    let code = '';
    try {
      const browser = new Browser(server.url, 'http://localhost:8080');
      const signUp = await browser.request('POST', '/api/v1/sign_up', {
        email: 'first@example.test',
        workspace_name: 'First Light',
      });
      expect(signUp.status).toBe(202);
      await expect
        .poll(() => server.output(), { timeout: 15_000 })
        .toContain('mail to first@example.test — open /dev/mailbox');
      const mailbox = await browser.request<string>('GET', '/dev/mailbox');
      code = /sign-in code is ([2-9A-Z]{6})/.exec(mailbox.body)![1]!;
      const signedIn = await browser.request('POST', '/api/v1/sign_in/code', { code });
      expect(signedIn.body).toEqual({ status: 'signed_in' });
      expect(browser.cookieNames()).toEqual(['emisar_session']);
      expect((await browser.request('GET', '/api/v1/accounts/first-light')).status).toBe(200);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(server.output()).not.toContain(code);

    const boot = await runServerCommand(['bootstrap', '--json'], env);
    expect(boot.code).toBe(0);
    const link = new URL(JSON.parse(boot.stdout).link as string);
    const again = await startServerProcess(env);
    try {
      const browser = new Browser(again.url, 'http://localhost:8080');
      const first = await browser.request('POST', '/api/v1/sign_in/bootstrap', {
        token: link.hash.slice(1),
      });
      expect(first.body).toEqual({ status: 'signed_in' });
      const second = await new Browser(again.url, 'http://localhost:8080').request(
        'POST',
        '/api/v1/sign_in/bootstrap',
        {
          token: link.hash.slice(1),
        },
      );
      expect(second.status).toBe(401);
    } finally {
      await again.stop('SIGTERM');
    }
    expect(again.output()).not.toContain(link.hash.slice(1));
  }, 180_000);
});
