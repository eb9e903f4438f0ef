import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../db/database.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../test-support/database.js';
import { proxyDatabase, type TcpProxy } from '../test-support/tcp-proxy.js';
import { createNotifyBus, type NotifyBus } from './notify-bus.js';

describe.runIf(onPostgres)('the LISTEN connection across a database outage (PostgreSQL)', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let storage: Storage;
  let bus: NotifyBus;
  const logged: { level: string; message: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await proxyDatabase(database.url!);
    proxy = proxied.proxy;
    storage = await openStorage({ kind: 'postgres', url: proxied.url });
    bus = createNotifyBus(storage, {
      info: (_fields, message) => logged.push({ level: 'info', message }),
      warn: (_fields, message) => logged.push({ level: 'warn', message }),
    });
  });
  afterAll(async () => {
    proxy?.unblock();
    await bus?.close();
    await storage?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('comes back on its own, says so once each way, and drops a subscriber it could not serve', async () => {
    const heard: string[] = [];
    const stop = await bus.subscribe('outage_test', (payload) => heard.push(payload));
    let resumed = 0;
    bus.onResume(() => {
      resumed += 1;
    });

    proxy.block();
    await expect
      .poll(() => logged)
      .toEqual([{ level: 'warn', message: expect.stringMatching(/lost/) }]);
    const refused: string[] = [];
    await expect(
      bus.subscribe('outage_late', (payload) => refused.push(payload)),
    ).rejects.toThrow();
    // Several retries fail while it is cut; none of them is logged.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(logged).toHaveLength(1);
    proxy.unblock();

    await expect.poll(() => resumed, { timeout: 10_000 }).toBe(1);
    expect(logged.map((l) => l.level)).toEqual(['warn', 'info']);
    // In order on one connection: once `after` is heard, `nobody` would have been.
    await bus.publish(storage.db, 'outage_late', 'nobody');
    await bus.publish(storage.db, 'outage_test', 'after');
    await expect.poll(() => heard).toEqual(['after']);
    expect(refused).toEqual([]);
    await stop();
  });
});
