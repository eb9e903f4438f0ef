import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  onPostgres,
  type TestDatabase,
} from '../../packages/server/src/test-support/database.js';
import {
  runServerCommand,
  type ServerProcess,
  startServerProcess,
} from '../../packages/server/src/test-support/server-process.js';
import { proxyDatabase, type TcpProxy } from '../../packages/server/src/test-support/tcp-proxy.js';

export { onPostgres };

/** Short timing knobs (the spec's Configuration table) so faults resolve in seconds. */
export const FAST_TIMING: Record<string, string> = {
  HEARTBEAT_TIMEOUT: '5s',
  RUNNER_LEASE: '6s',
  DISPATCH_GRACE: '60s',
  SENT_DEADLINE: '20s',
  RUN_DEADLINE: '60s',
  APPROVAL_TTL: '10m',
  SWEEP_INTERVAL: '500ms',
};

export interface ControlPlaneOptions {
  /** SMTP sink URL; without it mail stays in the outbox. */
  smtpUrl?: string;
  /** Extra environment (overrides the defaults, e.g. a timing knob). */
  env?: Record<string, string>;
  /** PostgreSQL only: every process reaches the database through a TCP proxy the test can cut. */
  databaseProxy?: boolean;
}

export interface ServerNode {
  url: string;
  port: number;
  process: ServerProcess;
  stop(): Promise<void>;
}

/** A free loopback port (released before it is returned; a restart reuses it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * One control plane's storage and configuration, and the `emisar-server` processes
 * serving it: PGlite in a temporary data dir, or (DATABASE_URL set) a fresh
 * PostgreSQL database with keys shared by every node. Nodes keep their port across
 * restarts, so links and the runner's URL stay valid.
 */
export class ControlPlane {
  readonly nodes: ServerNode[] = [];

  private constructor(
    readonly env: Record<string, string>,
    private readonly database: TestDatabase,
    private readonly dataDir: string,
    /** Chosen up front so links minted before the first start already point at it. */
    private readonly firstPort: number,
    /** Between every process and PostgreSQL, when asked for. */
    readonly databaseProxy: TcpProxy | undefined,
  ) {}

  static async create(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const database = await createTestDatabase();
    let databaseProxy: TcpProxy | undefined;
    let databaseUrl = database.url;
    if (options.databaseProxy && database.url) {
      ({ proxy: databaseProxy, url: databaseUrl } = await proxyDatabase(database.url));
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'emisar-e2e-server-'));
    const env: Record<string, string> = {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      EMISAR_DATA_DIR: dataDir,
      MAIL_FROM: 'emisar <no-reply@emisar.test>',
      ...FAST_TIMING,
      ...(options.smtpUrl ? { SMTP_URL: options.smtpUrl } : {}),
      ...(databaseUrl
        ? {
            DATABASE_URL: databaseUrl,
            EMISAR_SECRET_KEY: randomBytes(32).toString('base64'),
            EMISAR_SIGNING_KEY: generateKeyPairSync('ed25519')
              .privateKey.export({ format: 'pem', type: 'pkcs8' })
              .toString(),
          }
        : {}),
      ...options.env,
    };
    return new ControlPlane(env, database, dataDir, await freePort(), databaseProxy);
  }

  get onPostgres(): boolean {
    return this.database.url !== undefined;
  }

  /** The first node's URL (what the runner and most requests use). */
  get url(): string {
    return `http://127.0.0.1:${this.firstPort}`;
  }

  /**
   * `emisar-server <args> --json`, parsed. On PGlite only one process may open the
   * data dir, so this refuses while a node is running.
   */
  async cli<T = Record<string, unknown>>(args: string[]): Promise<T> {
    if (!this.onPostgres && this.nodes.some((n) => n.process.child.exitCode === null)) {
      throw new Error('stop the server before running CLI commands on PGlite');
    }
    const result = await runServerCommand([...args, '--json'], this.cliEnv());
    if (result.code !== 0) {
      throw new Error(`emisar-server ${args[0]} exited ${result.code}: ${result.stderr.trim()}`);
    }
    return JSON.parse(result.stdout) as T;
  }

  /**
   * `emisar-server catalog build` over each packs folder, merged into one
   * EMISAR_CATALOG_FILE that every node started afterwards trusts.
   */
  async trustPacks(dirs: string[]): Promise<void> {
    const entries: unknown[] = [];
    for (const dir of dirs) {
      const result = await runServerCommand(['catalog', 'build', dir], this.env);
      if (result.code !== 0) throw new Error(`catalog build ${dir}: ${result.stderr.trim()}`);
      entries.push(...(JSON.parse(result.stdout) as unknown[]));
    }
    const file = join(this.dataDir, 'catalog.json');
    await writeFile(file, JSON.stringify(entries));
    this.env.EMISAR_CATALOG_FILE = file;
  }

  /** Starts another node (or restarts `node` on its port). Several nodes need PostgreSQL. */
  async startNode(previous?: ServerNode): Promise<ServerNode> {
    if (!previous && this.nodes.length > 0 && !this.onPostgres) {
      throw new Error('several nodes need PostgreSQL');
    }
    const port = previous?.port ?? (this.nodes.length === 0 ? this.firstPort : await freePort());
    const url = `http://127.0.0.1:${port}`;
    const process = await startServerProcess({
      ...this.env,
      PORT: String(port),
      // Nodes behind one public origin, as behind a load balancer.
      EMISAR_BASE_URL: this.url,
    });
    const node: ServerNode = {
      url,
      port,
      process,
      stop: async () => {
        await process.stop('SIGTERM');
      },
    };
    if (previous) this.nodes[this.nodes.indexOf(previous)] = node;
    else this.nodes.push(node);
    return node;
  }

  /** Stops `node` (SIGTERM, or SIGKILL for a crash) and starts it again on the same port and storage. */
  async restart(node: ServerNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<ServerNode> {
    await node.process.stop(signal);
    return this.startNode(node);
  }

  /** Every node's output, for failure messages. */
  output(): string {
    return this.nodes.map((n, i) => `--- node ${i} (${n.url})\n${n.process.output()}`).join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.process.stop('SIGTERM')));
    await this.databaseProxy?.close();
    await this.database.drop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private cliEnv(): Record<string, string> {
    // Minted links point at the first node.
    return { ...this.env, PORT: String(this.firstPort), EMISAR_BASE_URL: this.url };
  }
}
