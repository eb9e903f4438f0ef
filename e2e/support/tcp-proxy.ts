import { createServer, type Server, Socket } from 'node:net';

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give this to the runner instead of the server's URL. */
  url: string;
  /** Points new connections at another upstream port (a restarted server). */
  setTarget(port: number): void;
  /** Resets every live connection (both sides); returns how many it cut. */
  cutAll(): number;
  /** Live client connections right now. */
  liveConnections(): number;
  /** Connections accepted since start. */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * A TCP forwarder between the runner and the control plane, so a test can sever
 * the runner's socket at the transport level (no route in the server helps it).
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let accepted = 0;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    accepted += 1;
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
    upstream.connect(target, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget(next) {
      target = next;
    },
    cutAll() {
      const cut = pairs.size;
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        for (const socket of pair) socket.resetAndDestroy();
      }
      return cut;
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
