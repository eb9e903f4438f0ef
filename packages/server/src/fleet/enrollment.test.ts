import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import {
  accountWithKey,
  newEnrollmentKey,
  refresh,
  register,
  registration,
} from './test-support/enrollment.js';
import { insertRunner } from './test-support/fixtures.js';

const DAY = 86_400_000;

const runnerExists = (name: string) => ({
  error: 'runner_exists',
  name,
  hint: expect.stringContaining('give this one its own name with runner.id'),
});

describe(`runner enrollment and tokens (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp();
  });
  afterAll(() => h.close());

  const runnerRows = (accountId: string) =>
    h.storage.db
      .selectFrom('runners')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
  const auditOf = async (accountId: string) =>
    (
      await h.storage.db
        .selectFrom('audit_events')
        .select(['event_type', 'actor_kind', 'target_id'])
        .where('account_id', '=', accountId)
        .orderBy('seq')
        .execute()
    ).map((e) => e.event_type);

  it('enrolls with a single-use key: token, runner row, audit; the key is then spent', async () => {
    const { accountId, key, keyId } = await accountWithKey(h);
    const first = await register(h.url, key, registration('web-1', { labels: { dc: 'eu' } }));
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      token: expect.stringMatching(/^rnrtok-[A-Za-z0-9_-]{43}$/),
      refresh_after: expect.any(String),
    });
    const due = Date.parse(first.body.refresh_after as string) - h.clock.now().getTime();
    expect(due).toBe(Math.floor((90 * DAY * 2) / 3));
    const [runner] = await runnerRows(accountId);
    expect(runner).toMatchObject({
      name: 'web-1',
      external_id: 'web-1',
      group_name: 'default',
      enrolled_with_key_id: keyId,
      labels: { dc: 'eu' },
      ref: expect.stringMatching(/^web-1~[0-9a-f]{32}$/),
    });
    const tokens = await h.storage.db
      .selectFrom('runner_tokens')
      .selectAll()
      .where('runner_id', '=', runner!.id)
      .execute();
    expect(tokens).toHaveLength(1);
    // Only a digest is stored.
    expect(JSON.stringify(tokens)).not.toContain((first.body.token as string).slice(7));
    expect(await auditOf(accountId)).toEqual(['runner.enrolled']);

    const again = await register(h.url, key, registration('web-2'));
    expect(again).toEqual({ status: 401, body: { error: 'enrollment_key_invalid' } });
  });

  it('answers 401 for a missing, malformed or unknown key', async () => {
    for (const key of [null, 'nonsense', `emkey-enroll-${'x'.repeat(43)}`]) {
      expect(await register(h.url, key, registration('nobody'))).toEqual({
        status: 401,
        body: { error: 'enrollment_key_invalid' },
      });
    }
  });

  it('refuses a bad external_id with 400 without consuming the key', async () => {
    const { key } = await accountWithKey(h);
    for (const externalId of [undefined, '', ' padded', 'x'.repeat(256), 42]) {
      const body = { ...registration('host-a'), external_id: externalId };
      expect(await register(h.url, key, body)).toEqual({
        status: 400,
        body: { error: 'invalid_external_id' },
      });
    }
    expect((await register(h.url, key, { ...registration('host-a'), labels: 'x' })).body).toEqual({
      error: 'invalid_request',
    });
    expect((await register(h.url, key, registration('host-a'))).status).toBe(201);
  });

  it('binds the group: a pinned key forces its group and refuses another', async () => {
    const { accountId, key } = await accountWithKey(h, { pinnedGroup: 'web', reusable: true });
    expect(await register(h.url, key, registration('pin-1', { group: 'db' }))).toEqual({
      status: 403,
      body: { error: 'group_mismatch' },
    });
    expect((await register(h.url, key, registration('pin-1'))).status).toBe(201);
    expect((await register(h.url, key, registration('pin-2', { group: 'web' }))).status).toBe(201);
    const free = await newEnrollmentKey(h, accountId);
    expect((await register(h.url, free.key, registration('pin-3', { group: 'ops' }))).status).toBe(
      201,
    );
    expect((await runnerRows(accountId)).map((r) => [r.name, r.group_name])).toEqual([
      ['pin-1', 'web'],
      ['pin-2', 'web'],
      ['pin-3', 'ops'],
    ]);
  });

  it('enforces the plan runner limit with 402 {plan, limit}; disabled runners do not count', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    for (const n of [1, 2, 3])
      expect((await register(h.url, key, registration(`lim-${n}`))).status).toBe(201);
    expect(await register(h.url, key, registration('lim-4'))).toEqual({
      status: 402,
      body: { error: 'runner_limit_exceeded', plan: 'free', limit: 3 },
    });
    await h.storage.db
      .updateTable('runners')
      .set({ disabled_at: h.clock.now().toISOString() })
      .where('account_id', '=', accountId)
      .where('name', '=', 'lim-1')
      .execute();
    expect((await register(h.url, key, registration('lim-4'))).status).toBe(201);
    const team = await accountWithKey(h, { plan: 'enterprise', reusable: true });
    for (const n of [1, 2, 3, 4])
      expect((await register(h.url, team.key, registration(`ent-${n}`))).status).toBe(201);
  });

  it('names a runner by its runner.id: two runners on one host with different ids both enroll', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    const host = { ...registration('shared-host') };
    expect((await register(h.url, key, { ...host, external_id: 'web-a' })).status).toBe(201);
    expect((await register(h.url, key, { ...host, external_id: 'web-b' })).status).toBe(201);
    const rows = await runnerRows(accountId);
    expect(rows.map((r) => [r.name, r.hostname])).toEqual([
      ['web-a', 'shared-host'],
      ['web-b', 'shared-host'],
    ]);
  });

  it('refuses a name a live runner already has: the 409 names it and how to pick another', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    // A runner enrolled before names followed runner.id: named after its host.
    await insertRunner(h.storage.db, accountId, { name: 'dup-host', externalId: 'older-id' });
    expect(await register(h.url, key, registration('dup-host'))).toEqual({
      status: 409,
      body: {
        error: 'runner_name_taken',
        name: 'dup-host',
        hint: expect.stringContaining('runner.id in its config (or EMISAR_RUNNER_ID)'),
      },
    });
  });

  it('re-enrolls by the original key while disconnected, revoking the old token', async () => {
    const { accountId, key } = await accountWithKey(h);
    const first = await register(h.url, key, registration('re-1'));
    const again = await register(h.url, key, registration('re-1', { version: '0.2.0' }));
    expect(again.status).toBe(201);
    expect(again.body.token).not.toBe(first.body.token);
    const rows = await runnerRows(accountId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ version: '0.2.0', reenrolled_at: expect.any(String) });
    h.clock.advance(61 * DAY);
    expect(await refresh(h.url, first.body.token as string)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });
    expect((await refresh(h.url, again.body.token as string)).status).toBe(200);
    expect(await auditOf(accountId)).toEqual(['runner.enrolled', 'runner.reenrolled']);
  });

  it('refuses re-enrollment by another key unless awaiting, and while connected', async () => {
    const { accountId, key } = await accountWithKey(h);
    expect((await register(h.url, key, registration('re-2'))).status).toBe(201);
    const other = await newEnrollmentKey(h, accountId);
    expect(await register(h.url, other.key, registration('re-2'))).toEqual({
      status: 409,
      body: runnerExists('re-2'),
    });
    await h.storage.db
      .updateTable('runners')
      .set({ awaiting_reenrollment: true })
      .where('account_id', '=', accountId)
      .execute();
    // Connected: a live lease.
    await h.storage.db
      .updateTable('runners')
      .set({ lease_expires_at: new Date(h.clock.now().getTime() + 60_000).toISOString() })
      .where('account_id', '=', accountId)
      .execute();
    expect(await register(h.url, other.key, registration('re-2'))).toEqual({
      status: 409,
      body: runnerExists('re-2'),
    });
    expect(await register(h.url, key, registration('re-2'))).toEqual({
      status: 409,
      body: runnerExists('re-2'),
    });
    h.clock.advance(120_000);
    expect((await register(h.url, other.key, registration('re-2'))).status).toBe(201);
    const [row] = await runnerRows(accountId);
    expect(row!.awaiting_reenrollment).toBe(false);
  });

  it('never revives a deleted runner: the same external_id enrolls as a new runner', async () => {
    const { accountId, key } = await accountWithKey(h, { reusable: true });
    expect((await register(h.url, key, registration('gone-1'))).status).toBe(201);
    await h.storage.db
      .updateTable('runners')
      .set({ deleted_at: h.clock.now().toISOString() })
      .where('account_id', '=', accountId)
      .execute();
    expect((await register(h.url, key, registration('gone-1'))).status).toBe(201);
    const rows = await runnerRows(accountId);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.id).not.toBe(rows[1]!.id);
    expect(rows.map((r) => r.deleted_at === null)).toEqual([false, true]);
  });

  it('refreshes only when due; the predecessor lives 24 h; expiry, disable and account disable', async () => {
    const { accountId, key } = await accountWithKey(h);
    const { token } = (await register(h.url, key, registration('tok-1'))).body as { token: string };
    expect(await refresh(h.url, token)).toEqual({ status: 409, body: { error: 'not_due' } });
    h.clock.advance(60 * DAY + 1000);
    const next = await refresh(h.url, token);
    expect(next.status).toBe(200);
    const successor = next.body.token as string;
    expect(successor).toMatch(/^rnrtok-/);
    expect(await refresh(h.url, successor)).toEqual({ status: 409, body: { error: 'not_due' } });
    h.clock.advance(23 * 3_600_000);
    expect((await refresh(h.url, token)).status).toBe(200); // predecessor still valid
    h.clock.advance(2 * 3_600_000);
    expect(await refresh(h.url, token)).toEqual({ status: 401, body: { error: 'token_invalid' } });
    h.clock.advance(91 * DAY);
    expect(await refresh(h.url, successor)).toEqual({
      status: 401,
      body: { error: 'token_expired' },
    });
    expect(await refresh(h.url, `rnrtok-${'z'.repeat(43)}`)).toEqual({
      status: 401,
      body: { error: 'token_invalid' },
    });

    const fresh = await newEnrollmentKey(h, accountId);
    const { token: t2 } = (await register(h.url, fresh.key, registration('tok-2'))).body as {
      token: string;
    };
    h.clock.advance(61 * DAY);
    await h.storage.db
      .updateTable('runners')
      .set({ disabled_at: h.clock.now().toISOString() })
      .where('account_id', '=', accountId)
      .execute();
    expect(await refresh(h.url, t2)).toEqual({ status: 403, body: { error: 'runner_disabled' } });
    await h.storage.db
      .updateTable('accounts')
      .set({ disabled_at: h.clock.now().toISOString() })
      .where('id', '=', accountId)
      .execute();
    expect(await refresh(h.url, t2)).toEqual({ status: 403, body: { error: 'account_disabled' } });
  });
});
