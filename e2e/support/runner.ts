import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO } from '../../packages/runner/src/test-support/cli.js';

/** The packs we ship, and the e2e-only test pack (never shipped). */
export const SHIPPED_PACKS = join(REPO, 'packs');
export const TEST_PACKS = join(REPO, 'e2e/fixtures/packs');

export interface RunnerOptions {
  /** `runner.id`: the runner's name and external id. */
  id: string;
  /** The control plane (or a TCP proxy in front of it). */
  url: string;
  enrollmentKey: string;
  group?: string;
  packs?: string[];
  /** The config's `admission:` section body (YAML, indented two spaces), if any. */
  admission?: string;
  /** The runner program Node runs (default: the checkout's built CLI). */
  program?: string;
}

export interface JournalLine {
  event_type: string;
  caller?: { control_plane_request_id: string | null };
  [field: string]: unknown;
}

/**
 * A real `emisar connect` process with its own home: config (0600), data dir
 * (0750) and journal, packs from the repo.
 */
export class RunnerHost {
  child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly options: RunnerOptions,
    readonly home: string,
    readonly configPath: string,
    readonly journalPath: string,
  ) {}

  static async create(options: RunnerOptions): Promise<RunnerHost> {
    const home = await mkdtemp(join(tmpdir(), 'emisar-e2e-runner-'));
    const configPath = join(home, 'etc/config.yaml');
    await mkdir(join(home, 'etc'), { mode: 0o755 });
    await mkdir(join(home, 'data'), { mode: 0o750 });
    await chmod(join(home, 'data'), 0o750);
    await mkdir(join(home, 'log'), { mode: 0o750 });
    await writeFile(configPath, runnerConfig(options), { mode: 0o600 });
    return new RunnerHost(options, home, configPath, join(home, 'log/events.jsonl'));
  }

  /** Starts `emisar connect` (again, after a stop: it keeps its token). */
  start(): void {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      EMISAR_ENROLLMENT_KEY: this.options.enrollmentKey,
    };
    const args = [this.options.program ?? CLI, 'connect', '--config', this.configPath];
    this.child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
  }

  output(): string {
    return this.log;
  }

  /** SIGTERM: the runner cancels its runs, stores their results and exits. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** The journal's events (hash-chained JSON Lines). */
  async journal(): Promise<JournalLine[]> {
    const text = await readFile(this.journalPath, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as JournalLine);
  }

  /** Journal events for one control-plane request id. */
  async journalFor(requestId: string): Promise<JournalLine[]> {
    return (await this.journal()).filter((e) => e.caller?.control_plane_request_id === requestId);
  }

  /** How many times the host started executing this request. */
  async executions(requestId: string): Promise<number> {
    return (await this.journalFor(requestId)).filter((e) => e.event_type === 'execution_started')
      .length;
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.home, { recursive: true, force: true });
  }
}

function runnerConfig(options: RunnerOptions): string {
  const packs = options.packs ?? [SHIPPED_PACKS, TEST_PACKS];
  return `runner:
  id: ${JSON.stringify(options.id)}
${options.group ? `  group: ${JSON.stringify(options.group)}\n` : ''}cloud:
  url: ${JSON.stringify(options.url)}
  heartbeat_every: 1s
  reconnect_min: 50ms
  reconnect_max: 500ms
paths:
  data_dir: ../data
  packs: [${packs.map((p) => JSON.stringify(p)).join(', ')}]
execution:
  cancel_grace: 500ms
events:
  jsonl_path: ../log/events.jsonl
${options.admission ? `admission:\n${options.admission}` : ''}`;
}
