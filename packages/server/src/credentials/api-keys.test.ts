import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Storage } from '../db/database.js';
import { type SeededWorkspace, seedWorkspace } from '../test-support/accounts.js';
import { openTestStorage } from '../test-support/database.js';
import { authenticateApiKey, createApiKey } from './api-keys.js';

describe('API keys', () => {
  let storage: Storage;
  let ws: SeededWorkspace;
  const clock = new ManualClock('2026-03-01T10:00:00Z');

  beforeAll(async () => {
    storage = await openTestStorage();
    ws = await seedWorkspace(storage.db, { clock });
  });
  afterAll(() => storage.close());

  const mintMcp = (expiresAt?: Date | null) =>
    createApiKey(
      storage.db,
      {
        accountId: ws.account.id,
        kind: 'mcp',
        membershipId: ws.ownerMembershipId,
        name: 'agent',
        createdBy: ws.owner.id,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      },
      clock,
    );

  it('authenticates an mcp key as its member and keeps only a digest', async () => {
    const key = await mintMcp();
    expect(key.secret).toMatch(/^emk-[A-Za-z0-9_-]{43}$/);
    expect(key.expiresAt).toBe('2026-03-31T10:00:00.000000Z');
    const principal = await authenticateApiKey(storage.db, key.secret, clock);
    expect(principal).toEqual({
      keyId: key.id,
      kind: 'mcp',
      accountId: ws.account.id,
      lineageId: key.lineageId,
      membershipId: ws.ownerMembershipId,
    });
    const row = await storage.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(key.secret.slice(16));
  });

  it('an audit_export key belongs to the account and never expires by default', async () => {
    const key = await createApiKey(
      storage.db,
      {
        accountId: ws.account.id,
        kind: 'audit_export',
        membershipId: null,
        name: 'siem',
        createdBy: ws.owner.id,
      },
      clock,
    );
    expect(key.expiresAt).toBeNull();
    const principal = await authenticateApiKey(storage.db, key.secret, clock);
    expect(principal).toMatchObject({ kind: 'audit_export', membershipId: null });
  });

  it('refuses malformed, unknown, tampered, expired and revoked secrets alike', async () => {
    const key = await mintMcp(new Date('2026-03-01T11:00:00Z'));
    const last = key.secret.at(-1) === 'A' ? 'B' : 'A';
    for (const bad of ['', 'emk-short', `${key.secret.slice(0, -1)}${last}`, `x${key.secret}`]) {
      expect(await authenticateApiKey(storage.db, bad, clock)).toBeNull();
    }
    const later = new ManualClock('2026-03-01T11:00:00Z');
    expect(await authenticateApiKey(storage.db, key.secret, later)).toBeNull();

    const revoked = await mintMcp();
    await storage.db
      .updateTable('api_keys')
      .set({ revoked_at: clock.now().toISOString() })
      .where('id', '=', revoked.id)
      .execute();
    expect(await authenticateApiKey(storage.db, revoked.secret, clock)).toBeNull();
  });

  it('an mcp key stops working while its membership is suspended', async () => {
    const key = await mintMcp();
    const suspend = (at: string | null) =>
      storage.db
        .updateTable('memberships')
        .set({ suspended_at: at })
        .where('id', '=', ws.ownerMembershipId)
        .execute();
    await suspend(clock.now().toISOString());
    expect(await authenticateApiKey(storage.db, key.secret, clock)).toBeNull();
    await suspend(null);
    expect(await authenticateApiKey(storage.db, key.secret, clock)).not.toBeNull();
  });

  it('records last use at most once a minute', async () => {
    const key = await mintMcp();
    const lastUsed = async () =>
      (
        await storage.db
          .selectFrom('api_keys')
          .select('last_used_at')
          .where('id', '=', key.id)
          .executeTakeFirstOrThrow()
      ).last_used_at;
    const t = new ManualClock('2026-03-02T00:00:00Z');
    await authenticateApiKey(storage.db, key.secret, t);
    expect(await lastUsed()).toBe('2026-03-02T00:00:00.000000Z');
    t.advance(30_000);
    await authenticateApiKey(storage.db, key.secret, t);
    expect(await lastUsed()).toBe('2026-03-02T00:00:00.000000Z');
    t.advance(30_000);
    await authenticateApiKey(storage.db, key.secret, t);
    expect(await lastUsed()).toBe('2026-03-02T00:01:00.000000Z');
  });
});
