import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../packages/server/src/test-support/tcp-proxy.js';
import { ControlPlane } from './support/control-plane.js';
import { eventually } from './support/wait.js';

describe('the e2e harness itself', () => {
  it('the TCP proxy forwards both ways, cuts every live connection and blocks new ones on demand', async () => {
    const upstreamSockets: Socket[] = [];
    const upstream = createServer((socket) => {
      upstreamSockets.push(socket);
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const proxy = await startTcpProxy((upstream.address() as { port: number }).port);
    const port = Number(new URL(proxy.url).port);

    const clients = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    await Promise.all(clients.map((c) => once(c, 'connect')));
    clients[0]!.write('ping');
    const [echo] = (await once(clients[0]!, 'data')) as [Buffer];
    expect(echo.toString()).toBe('ping');
    await eventually(() => proxy.liveConnections() === 2);

    const closed = clients.map((c) => new Promise((resolve) => c.once('close', resolve)));
    for (const c of clients) c.on('error', () => {});
    expect(proxy.cutAll()).toBe(2);
    await Promise.all(closed);
    await eventually(() => upstreamSockets.every((s) => s.destroyed));
    expect(proxy.liveConnections()).toBe(0);
    expect(proxy.accepted()).toBe(2);

    // Blocked, it resets every new connection; unblocked, it forwards again.
    proxy.block();
    const refused = connect(port, '127.0.0.1').on('error', () => {});
    await new Promise((resolve) => refused.on('close', resolve));
    expect(proxy.liveConnections()).toBe(0);
    proxy.unblock();
    const again = connect(port, '127.0.0.1');
    await once(again, 'connect');
    again.write('pong');
    const [reply] = (await once(again, 'data')) as [Buffer];
    expect(reply.toString()).toBe('pong');
    again.destroy();

    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  describe('a control plane process', () => {
    let cp: ControlPlane;
    afterAll(() => cp?.close());

    it('seeds through the CLI, serves, and restarts on the same port and storage', async () => {
      cp = await ControlPlane.create();
      const account = await cp.cli<{ slug: string; plan: string }>([
        'account',
        'create',
        '--email',
        'harness@e2e.test',
        '--workspace',
        'Harness Co',
      ]);
      expect(account).toMatchObject({ slug: 'harness-co', plan: 'free' });
      const key = await cp.cli<{ secret: string }>([
        'api-key',
        'create',
        '--account',
        account.slug,
      ]);
      expect(key.secret).toMatch(/^emk-/);

      const node = await cp.startNode();
      expect(node.url).toBe(cp.url);
      if (!cp.onPostgres) await expect(cp.cli(['bootstrap'])).rejects.toThrow(/stop the server/);
      const account1 = await fetch(`${node.url}/api/v1/accounts/harness-co`, {
        headers: { authorization: `Bearer ${key.secret}` },
      });
      expect(account1.status).toBe(200);

      const restarted = await cp.restart(node);
      expect(restarted.port).toBe(node.port);
      const account2 = await fetch(`${restarted.url}/api/v1/accounts/harness-co`, {
        headers: { authorization: `Bearer ${key.secret}` },
      });
      expect(account2.status).toBe(200);
    }, 180_000);
  });
});
