import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStorage, type TestStorage } from '../test-support/database.js';
import {
  type AccountEvent,
  parseAccountEvent,
  publishAccountEvent,
  subscribeAccountEvents,
} from './account-events.js';

describe('account events', () => {
  let storage: TestStorage;

  beforeAll(async () => {
    storage = await openTestStorage();
  });

  afterAll(async () => {
    await storage.close();
  });

  it('reach subscribers as typed events', async () => {
    const seen: AccountEvent[] = [];
    const stop = await subscribeAccountEvents(storage.bus, (event) => seen.push(event));
    const event: AccountEvent = { accountId: 'a1', kind: 'run', id: 'r1' };
    await publishAccountEvent(storage.bus, storage.db, event);
    await expect.poll(() => seen).toEqual([event]);
    await stop();
  });

  it('ignore payloads that are not ours', () => {
    expect(parseAccountEvent('a1:run:r1')).toEqual({ accountId: 'a1', kind: 'run', id: 'r1' });
    expect(parseAccountEvent('a1:shell:r1')).toBeNull();
    expect(parseAccountEvent('a1:run')).toBeNull();
    expect(parseAccountEvent('a1:run:r1:x')).toBeNull();
  });
});
