import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { systemContext } from '../core/context.js';
import type { Storage } from '../db/database.js';
import { hitDurableLimit } from '../limits/durable-limit.js';
import { seedWorkspace } from '../test-support/accounts.js';
import { openTestStorage } from '../test-support/database.js';
import { cleanUpIdentityRows } from './cleanup.js';
import { createSession, revokeSessions } from './sessions.js';
import { mintUserToken } from './user-tokens.js';

describe('identity cleanup', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage();
  });
  afterAll(() => storage.close());

  it('deletes spent sign-in material a week after it stopped working, nothing live', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const { owner } = await seedWorkspace(storage.db, { clock });
    const context = systemContext('test');
    const live = await createSession(
      storage.db,
      { userId: owner.id, method: 'code', mfaVerified: false, context },
      clock,
    );
    const revoked = await createSession(
      storage.db,
      { userId: owner.id, method: 'code', mfaVerified: false, context },
      clock,
    );
    await revokeSessions(storage.db, owner.id, clock, { only: revoked.id });
    await mintUserToken(storage.db, owner.id, 'password_reset', clock);
    await hitDurableLimit(storage.db, { name: 't', max: 5, windowMs: 60_000 }, 'x', clock);

    expect(await cleanUpIdentityRows(storage.db, clock)).toEqual({
      signInCodes: 0,
      userTokens: 0,
      webauthnChallenges: 0,
      sessions: 0,
      rateLimitCounters: 0,
    });
    clock.advance(8 * 86_400_000);
    expect(await cleanUpIdentityRows(storage.db, clock)).toMatchObject({
      userTokens: 1,
      sessions: 1,
      rateLimitCounters: 1,
    });
    const sessions = await storage.db.selectFrom('sessions').select('id').execute();
    expect(sessions.map((s) => s.id)).toEqual([live.id]);
  });
});
