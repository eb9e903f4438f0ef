import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertMember } from '../test-support/accounts.js';
import {
  signInWithCode,
  signUp,
  signUpOwner,
  startTestApp,
  type TestApp,
} from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { recordAuditEvents } from './record.js';
import { insertApiKey, sampleEvent } from './test-support/fixtures.js';

let h: TestApp;
let owner: Browser;
let accountId: string;
const base = '/api/v1/accounts/audit-co';

beforeAll(async () => {
  h = await startTestApp();
  ({ browser: owner, accountId } = await signUpOwner(h, 'owner@audit-co.test', 'Audit Co'));
  await h.storage.db.transaction().execute((trx) =>
    recordAuditEvents(trx, [
      { ...sampleEvent(accountId, 1), actor: { kind: 'user', id: null, label: '=HYPERLINK("x")' } },
      {
        accountId,
        eventType: 'subscription.changed',
        actor: { kind: 'system', id: null, label: 'paddle' },
        payload: { plan: 'team' },
      },
    ]),
  );
});
afterAll(() => h.close());

const csvRows = (body: unknown) =>
  String(body)
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter(Boolean);

describe('the console audit log', () => {
  it('lists events as JSON with a cursor, for people who may view the audit log', async () => {
    const page = await owner.request<{
      events: { seq: number; event_type: string }[];
      next_cursor: string;
    }>('GET', `${base}/audit?limit=1000000`);
    expect(page.status).toBe(200);
    const types = page.body.events.map((e) => e.event_type);
    expect(types).toContain('subscription.changed');
    expect(types).toContain('user.signed_in');
    const last = page.body.events.at(-1)!.seq;
    expect(page.body.next_cursor).toBe(Buffer.from(String(last)).toString('base64url'));
    const after = await owner.request<{ events: unknown[]; next_cursor: null }>(
      'GET',
      `${base}/audit?cursor=${page.body.next_cursor}`,
    );
    expect(after.body).toEqual({ events: [], next_cursor: null });
  });

  it('downloads CSV with formula cells neutralised', async () => {
    const response = await owner.request('GET', `${base}/audit.csv?event_type=user.signed_in`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(
      'attachment; filename="audit-audit-co.csv"',
    );
    const rows = csvRows(response.body);
    expect(rows[0]).toMatch(/^seq,id,occurred_at,account_id,event_type,/);
    expect(rows.slice(1).every((row) => row.split(',')[4] === 'user.signed_in')).toBe(true);
    expect(rows.filter((row) => row.includes(`"'=HYPERLINK(""x"")"`))).toHaveLength(1);
    expect(rows.some((row) => row.includes(',"=HYPERLINK'))).toBe(false);
  });

  it('shows the billing role billing events only, and refuses API keys', async () => {
    const billing = await insertMember(h.storage.db, accountId, 'billing');
    const browser = await signInWithCode(h, billing.email);
    const rows = csvRows((await browser.request('GET', `${base}/audit.csv`)).body);
    expect(rows.slice(1).map((row) => row.split(',')[4])).toEqual(['subscription.changed']);
    const asked = await browser.request('GET', `${base}/audit.csv?event_type=user.signed_in`);
    expect(csvRows(asked.body)).toHaveLength(1);

    const exportKey = await insertApiKey(h.storage.db, accountId, 'audit_export');
    const refused = await h.app.inject({
      method: 'GET',
      url: `${base}/audit.csv`,
      headers: { authorization: `Bearer ${exportKey}` },
    });
    expect(refused.statusCode).toBe(403);
    const mcpKey = await insertApiKey(h.storage.db, accountId, 'mcp');
    const mcp = await h.app.inject({
      method: 'GET',
      url: `${base}/audit`,
      headers: { authorization: `Bearer ${mcpKey}` },
    });
    expect(mcp.statusCode).toBe(403);
  });

  it('answers another workspace 404 and a malformed cursor 400', async () => {
    const other = await signUp(h, 'owner@elsewhere.test', 'Elsewhere');
    expect((await other.request('GET', `${base}/audit`)).status).toBe(404);
    const bad = await owner.request<{ error: { id: string } }>(
      'GET',
      `${base}/audit.csv?cursor=%%%`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.id).toBe('invalid_params');
  });
});
