import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt } from '../auth/totp.js';
import { SESSION_COOKIE, SIGN_IN_NONCE_COOKIE } from '../http/auth.js';
import { mintBootstrapLink } from '../members/bootstrap-link.js';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom, signInCodeFrom } from '../test-support/smtp-sink.js';

/** The raw value of a signed cookie (`value.signature`). */
const unsigned = (cookie: string) => decodeURIComponent(cookie).replace(/\.[^.]+$/, '');

describe(`secrets at rest (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  it('keeps only digests of bearer secrets and ciphertext of TOTP seeds and mail bodies', async () => {
    const secrets: Record<string, string> = {};
    const email = 'keeper@example.test';
    const browser = h.browser();
    await browser.request('POST', '/api/v1/sign_up', { email, workspace_name: 'Keeper' });
    secrets.signInNonce = unsigned(browser.jar.get(SIGN_IN_NONCE_COOKIE)!.value).split('.')[1]!;
    secrets.signInCode = signInCodeFrom((await h.smtp.next(email)).text ?? '', h.config.baseUrl);
    await browser.request('POST', '/api/v1/sign_in/code', { code: secrets.signInCode });
    secrets.session = unsigned(browser.jar.get(SESSION_COOKIE)!.value);
    expect(secrets.session).toMatch(/^emss-/);

    const base = '/api/v1/accounts/keeper';
    const mcp = await browser.request<{ api_key: { secret: string } }>('POST', `${base}/api-keys`, {
      name: 'mcp',
    });
    secrets.mcpKey = mcp.body.api_key.secret;
    const exportKey = await browser.request<{ api_key: { secret: string } }>(
      'POST',
      `${base}/api-keys`,
      {
        name: 'siem',
        kind: 'audit_export',
      },
    );
    secrets.auditExportKey = exportKey.body.api_key.secret;
    const enroll = await browser.request<{ enrollment_key: { secret: string } }>(
      'POST',
      `${base}/enrollment-keys`,
      {},
    );
    secrets.enrollmentKey = enroll.body.enrollment_key.secret;

    await browser.request('POST', `${base}/invitations`, {
      email: 'invitee@example.test',
      role: 'viewer',
    });
    secrets.invitation = fragmentSecretFrom(
      (await h.smtp.next('invitee@example.test')).text ?? '',
      '/accept_invitation',
    );

    secrets.password = 'a long and secret password';
    await browser.request('POST', '/api/v1/me/password', { password: secrets.password });
    await h.browser().request('POST', '/api/v1/password/forgot', { email });
    secrets.passwordReset = fragmentSecretFrom(
      (await h.smtp.next(email)).text ?? '',
      '/reset_password',
    );

    await h.storage.db
      .updateTable('users')
      .set({ confirmed_at: null })
      .where('email', '=', email)
      .execute();
    await browser.request('POST', '/api/v1/me/confirmation', {});
    secrets.confirmation = fragmentSecretFrom((await h.smtp.next(email)).text ?? '', '/confirm');

    const totp = await browser.request<{ secret: string }>('POST', '/api/v1/me/mfa/totp', {});
    secrets.totpSeed = totp.body.secret;
    const confirmed = await browser.request<{ recovery_codes: string[] }>(
      'POST',
      '/api/v1/me/mfa/totp/confirm',
      {
        code: totpCodeAt(totp.body.secret, h.clock.now()),
      },
    );
    confirmed.body.recovery_codes.forEach((code, i) => {
      secrets[`recovery${i}`] = code;
    });

    const boot = await mintBootstrapLink(h.storage.db, h.config.baseUrl, h.clock);
    secrets.bootstrap = boot!.link.split('#')[1]!;

    for (const [name, value] of Object.entries(secrets)) expect(value, name).toBeTruthy();
    // A planted value proves the scan would notice a leak.
    secrets.canary = `canary-${Math.random().toString(36).slice(2)}`;
    await h.storage.db
      .updateTable('users')
      .set({ full_name: secrets.canary })
      .where('email', '=', 'invitee@example.test')
      .execute();

    // Mail in the outbox is encrypted; check it was delivered, then scan every column.
    const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
      SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = current_schema()
        AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb', 'ARRAY')`.execute(
      h.storage.db,
    );
    expect(columns.rows.length).toBeGreaterThan(20);
    const leaks: string[] = [];
    let scanned = 0;
    for (const { table_name, column_name } of columns.rows) {
      const rows = await sql<{
        v: unknown;
      }>`SELECT ${sql.ref(column_name)} AS v FROM ${sql.table(table_name)}`.execute(h.storage.db);
      for (const { v } of rows.rows) {
        if (v === null) continue;
        scanned++;
        const forms =
          v instanceof Uint8Array
            ? [Buffer.from(v).toString('latin1'), Buffer.from(v).toString('hex')]
            : [typeof v === 'string' ? v : JSON.stringify(v)];
        for (const [name, secret] of Object.entries(secrets)) {
          const needles = [secret, Buffer.from(secret).toString('hex')];
          if (forms.some((form) => needles.some((needle) => form.includes(needle)))) {
            leaks.push(`${name} in ${table_name}.${column_name}`);
          }
        }
      }
    }
    expect(scanned).toBeGreaterThan(100);
    expect(leaks).toEqual(['canary in users.full_name']);

    // The TOTP seed is there, sealed: it still verifies a code after a restart-free round trip.
    const user = await h.storage.db
      .selectFrom('users')
      .select('totp_secret_ciphertext')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(user.totp_secret_ciphertext?.length).toBe(12 + Buffer.byteLength(secrets.totpSeed) + 16);
  });
});
