import { type SmtpSink, startSmtpSink } from '../../packages/server/src/test-support/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../../packages/server/src/test-support/tcp-proxy.js';
import { ApiClient, Runs } from './api.js';
import { ControlPlane, type ServerNode } from './control-plane.js';
import { People } from './people.js';
import { RunnerHost, type RunnerOptions, SHIPPED_PACKS, TEST_PACKS } from './runner.js';
import { eventually } from './wait.js';

export const OWNER = 'owner@e2e.test';

export interface RunnerView {
  id: string;
  name: string;
  ref: string;
  online: boolean;
  [field: string]: unknown;
}

export interface SystemOptions {
  /** Control-plane environment overrides (timing knobs). */
  env?: Record<string, string>;
  /** Put a TCP proxy between the runner and the server. */
  proxy?: boolean;
  /** PostgreSQL only: put a TCP proxy between the server and the database. */
  databaseProxy?: boolean;
  /** Start no runner (the test enrolls its own). */
  noRunner?: boolean;
  /** Make the seeded enrollment key reusable (several runners enroll with it). */
  reusableEnrollmentKey?: boolean;
  plan?: string;
}

/**
 * The whole system for one test file: an SMTP sink, a control plane seeded with
 * a workspace (owner, `mcp` and `audit_export` keys, a single-use enrollment key)
 * through the server CLI, one server node, and a real runner with the repo's
 * packs plus the e2e test pack — optionally behind a TCP proxy.
 */
export class System {
  runner: RunnerHost | undefined;
  proxy: TcpProxy | undefined;
  readonly people: People;

  private constructor(
    readonly smtp: SmtpSink,
    readonly cp: ControlPlane,
    readonly slug: string,
    readonly keys: { mcp: string; audit: string; enrollment: string },
    public node: ServerNode,
  ) {
    this.people = new People(smtp, cp.url);
  }

  static async start(options: SystemOptions = {}): Promise<System> {
    const smtp = await startSmtpSink();
    const cp = await ControlPlane.create({
      smtpUrl: smtp.url,
      env: options.env ?? {},
      ...(options.databaseProxy ? { databaseProxy: true } : {}),
    });
    try {
      await cp.trustPacks([SHIPPED_PACKS, TEST_PACKS]);
      const account = await cp.cli<{ slug: string }>([
        'account',
        'create',
        '--email',
        OWNER,
        '--workspace',
        'E2E Ops',
      ]);
      if (options.plan) await cp.cli(['plan', 'set', account.slug, options.plan]);
      const mcp = await cp.cli<{ secret: string }>([
        'api-key',
        'create',
        '--account',
        account.slug,
      ]);
      const audit = await cp.cli<{ secret: string }>([
        'api-key',
        'create',
        '--account',
        account.slug,
        '--kind',
        'audit_export',
      ]);
      const enrollment = await cp.cli<{ secret: string }>([
        'enrollment-key',
        'create',
        '--account',
        account.slug,
        ...(options.reusableEnrollmentKey ? ['--reusable'] : []),
      ]);
      const node = await cp.startNode();
      const system = new System(
        smtp,
        cp,
        account.slug,
        { mcp: mcp.secret, audit: audit.secret, enrollment: enrollment.secret },
        node,
      );
      if (options.proxy) system.proxy = await startTcpProxy(node.port);
      if (!options.noRunner) {
        system.runner = await system.startRunner('e2e-host-1', system.keys.enrollment);
      }
      return system;
    } catch (error) {
      await cp.close().catch(() => {});
      await smtp.close();
      throw error;
    }
  }

  /** The `mcp` key's client against a node (default: the first). */
  api(node: ServerNode = this.node): ApiClient {
    return new ApiClient(node.url, this.keys.mcp);
  }

  runs(node: ServerNode = this.node): Runs {
    return new Runs(this.api(node), this.slug);
  }

  /**
   * Writes a runner home and starts `emisar connect` against the proxy (if any) or
   * the node. `id` is its `runner.id`, so its name on the control plane.
   */
  async startRunner(
    id: string,
    enrollmentKey: string,
    options: Pick<RunnerOptions, 'packs' | 'admission' | 'program'> = {},
  ): Promise<RunnerHost> {
    const runner = await RunnerHost.create({
      id,
      url: this.proxy?.url ?? this.node.url,
      enrollmentKey,
      ...options,
    });
    runner.start();
    return runner;
  }

  /**
   * Polls until the runner named `name` (its `runner.id`) is online and advertises
   * `actions` with the trusted pack hash (its runner_state was ingested).
   */
  async waitOnline(
    name: string,
    actions: string[] = ['linux.uptime', 'e2ekit.count'],
  ): Promise<RunnerView> {
    const base = `/api/v1/accounts/${this.slug}/runners`;
    return eventually(async () => {
      const listed = await this.api().request<{ runners: RunnerView[] }>('GET', base);
      const runner = listed.body.runners?.find((r) => r.name === name && r.online);
      if (!runner) return undefined;
      const detail = await this.api().request<{
        runner: { actions: { id: string; trust: string }[] };
      }>('GET', `${base}/${runner.id}`);
      const trusted = new Set(
        detail.body.runner?.actions.filter((a) => a.trust === 'trusted').map((a) => a.id),
      );
      return actions.every((id) => trusted.has(id)) ? runner : undefined;
    }, 100);
  }

  /** The audit export (NDJSON) through the `audit_export` key: every event (the signed head statement that ends it left out). */
  async auditEvents(): Promise<Record<string, unknown>[]> {
    const response = await new ApiClient(this.node.url, this.keys.audit).request(
      'GET',
      '/api/audit?limit=all',
    );
    if (response.status !== 200)
      throw new Error(`audit export: ${response.status} ${response.text}`);
    const lines = response.text.split('\n').filter(Boolean);
    const head = JSON.parse(lines.pop() ?? '{}') as { type?: unknown };
    if (head.type !== 'emisar.audit_export_head.v1') {
      throw new Error('audit export: the last line is not the signed head statement');
    }
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Process output of the server nodes and the runner, for failure messages. */
  diagnostics(): string {
    return `${this.cp.output()}\n--- runner\n${this.runner?.output() ?? ''}`;
  }

  async close(): Promise<void> {
    await this.runner?.close();
    await this.proxy?.close();
    await this.cp.close();
    await this.smtp.close();
  }
}
