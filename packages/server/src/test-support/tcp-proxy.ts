import { createServer, type Server, Socket } from 'node:net';

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the upstream's address. */
  url: string;
  port: number;
  /** Points new connections at another upstream port (a restarted server). */
  setTarget(port: number): void;
  /** Resets every live connection (both sides); returns how many it cut. */
  cutAll(): number;
  /** Cuts every live connection and resets each new one until `unblock()`: the upstream is gone. */
  block(): void;
  unblock(): void;
  /** Live client connections right now. */
  liveConnections(): number;
  /** Connections accepted since start (refused ones while blocked included). */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * A TCP forwarder between a client and its upstream (the runner and the control
 * plane, or the control plane and PostgreSQL), so a test can sever the link at
 * the transport level, where nothing in the application helps it.
 */
export async function startTcpProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<TcpProxy> {
  let target = targetPort;
  let accepted = 0;
  let blocked = false;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    accepted += 1;
    if (blocked) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(target, targetHost);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cutAll = () => {
    const cut = pairs.size;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const socket of pair) socket.resetAndDestroy();
    }
    return cut;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setTarget(next) {
      target = next;
    },
    cutAll,
    block() {
      blocked = true;
      cutAll();
    },
    unblock() {
      blocked = false;
    },
    liveConnections: () => pairs.size,
    accepted: () => accepted,
    close() {
      for (const pair of pairs) for (const socket of pair) socket.destroy();
      pairs.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of the PostgreSQL server that `databaseUrl` names, and that URL through it. */
export async function proxyDatabase(
  databaseUrl: string,
): Promise<{ proxy: TcpProxy; url: string }> {
  const url = new URL(databaseUrl);
  const proxy = await startTcpProxy(Number(url.port || 5432), url.hostname);
  url.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: url.toString() };
}
