import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DaemonExit, daemonControls, loadRunnerConfig, runDaemon } from '@emisar/runner';

export interface RealRunner {
  home: string;
  logs: string[];
  exit: Promise<DaemonExit>;
  /** Cancels runs, stops the daemon and removes its home. */
  stop(): Promise<void>;
}

/**
 * The real runner daemon (packages/runner), in this process, enrolling with
 * `enrollmentKey` against `url` and loading the given packs.
 */
export async function startRealRunner(options: {
  url: string;
  enrollmentKey: string;
  runnerId: string;
  packs: string[];
  group?: string;
}): Promise<RealRunner> {
  const home = await mkdtemp(join(tmpdir(), 'emisar-fleet-runner-'));
  await mkdir(join(home, 'etc'));
  const configPath = join(home, 'etc/config.yaml');
  await writeFile(
    configPath,
    `runner:
  id: ${options.runnerId}
${options.group ? `  group: ${options.group}\n` : ''}cloud:
  url: ${options.url}
  heartbeat_every: 200ms
  reconnect_min: 20ms
  reconnect_max: 200ms
paths:
  data_dir: ../data
  packs: [${options.packs.map((p) => JSON.stringify(p)).join(', ')}]
execution:
  cancel_grace: 200ms
events:
  jsonl_path: ../log/events.jsonl
`,
    { mode: 0o600 },
  );
  const config = await loadRunnerConfig({ explicitPath: configPath, env: {} });
  const logs: string[] = [];
  const exit = runDaemon({
    config,
    env: { PATH: process.env.PATH, EMISAR_ENROLLMENT_KEY: options.enrollmentKey },
    log: (message) => logs.push(message),
  });
  exit.catch(() => {});
  let ended = false;
  void exit.finally(() => {
    ended = true;
  });
  return {
    home,
    logs,
    exit,
    async stop() {
      while (!ended && daemonControls === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (!ended) await daemonControls?.stop();
      await exit.catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}
