import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CredentialOptions,
  discardToken,
  EnrollmentError,
  obtainToken,
  refreshIfDue,
} from './cloud/enrollment.js';
import type { TokenFile } from './cloud/token.js';
import type { RunnerConfig } from './config/config.js';
import { requireForDaemon } from './config/config.js';
import { loadRegistry, type Registry } from './engine/registry.js';
import {
  type Availability,
  buildRunnerState,
  checkAvailability,
  sameAvailability,
} from './engine/state.js';
import { errorCode, errorMessage, writeFileAtomic } from './fs-util.js';
import { detectIsolation, engineDeps, openJournal } from './runtime.js';
import { backoffDelay, CloudSession } from './session/connection.js';
import { Dispatcher } from './session/dispatcher.js';
import { DispatchLog } from './state/dispatch-log.js';
import { acquireLock } from './state/lock.js';
import { RUNNER_VERSION } from './version.js';

export interface DaemonOptions {
  config: RunnerConfig;
  env?: NodeJS.ProcessEnv;
  log?: (message: string) => void;
  /** How often executable availability is re-checked (default 30 s). */
  availabilityPollMs?: number;
  /** Install SIGHUP/SIGINT/SIGTERM handlers (the CLI does; tests drive stop() themselves). */
  handleSignals?: boolean;
}

export class DaemonError extends Error {
  override readonly name = 'DaemonError';
}

/** Exit codes of `emisar connect`. */
export type DaemonExit = { code: number; why: string };

/**
 * `emisar connect`: single instance (runner.lock), journal and dispatch log open,
 * packs loaded, token obtained, then the session runs until a signal, a 401 or a
 * terminal shutdown. SIGHUP reloads packs atomically; SIGINT/SIGTERM cancel every
 * run and wait until each result is durably stored.
 */
export async function runDaemon(options: DaemonOptions): Promise<DaemonExit> {
  const { config } = options;
  const env = options.env ?? process.env;
  const log = options.log ?? ((message: string) => process.stderr.write(`emisar: ${message}\n`));
  const { dataDir, url, tokenPath } = requireForDaemon(config);
  await mkdir(dataDir, { recursive: true, mode: 0o750 });

  const terminalPath = join(dataDir, 'terminal_shutdown.json');
  const terminal = await readFile(terminalPath, 'utf8').catch((error) => {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (terminal !== undefined) {
    throw new DaemonError(
      `the control plane stopped this runner for good (${terminal.trim()}); remove ${terminalPath} to start again`,
    );
  }

  const releaseLock = await acquireLock(join(dataDir, 'runner.lock'));
  const journal = await openJournal(config).catch(async (error) => {
    await releaseLock();
    throw error;
  });
  try {
    const { log: dispatchLog, outcomeUnknown } = await DispatchLog.open(
      join(dataDir, 'dispatches.jsonl'),
    );
    for (const entry of outcomeUnknown) {
      log(
        `run ${entry.request_id} was interrupted by a crash: reporting execution_outcome_unknown`,
      );
      await journal
        .append({
          event_type: 'execution_failed',
          group: config.runner.group ?? 'default',
          runner_id: config.runner.id,
          caller: { control_plane_request_id: entry.request_id },
          error: 'execution_outcome_unknown: the runner stopped before the result was stored',
        })
        .catch(() => {});
    }

    const isolation = await detectIsolation();
    if (isolation.containment.mode !== 'cgroup') {
      log(`process-group containment (${isolation.containment.reason})`);
    }
    let registry: Registry = await loadRegistry(config);
    for (const degraded of registry.degraded)
      log(`pack ${degraded.pack} degraded: ${degraded.reason}`);
    const pathEnv = env.PATH ?? '';
    let availability: Availability = await checkAvailability(registry, pathEnv);

    if (config.cloud.allowInsecure && new URL(url).protocol === 'http:') {
      log(`WARNING: cloud.allow_insecure is set: talking plain http to ${new URL(url).host}`);
    }
    const credentials: CredentialOptions = {
      config,
      url,
      tokenPath,
      env,
      version: RUNNER_VERSION,
      log,
    };
    let token: TokenFile = await obtainTokenPatiently(credentials, config);

    let session: CloudSession;
    const reload = async (): Promise<void> => {
      registry = await loadRegistry(config, true);
      availability = await checkAvailability(registry, pathEnv);
      session.advertise();
    };
    const dispatcher = new Dispatcher({
      engine: engineDeps(config, journal, isolation),
      journal,
      dispatchLog,
      registry: () => registry,
      advertise: async (fromDisk) => {
        if (fromDisk)
          await reload().catch((error) => log(`pack reload failed: ${errorMessage(error)}`));
        session.advertise();
      },
      log,
    });
    session = new CloudSession({
      url,
      token: () => token.token,
      state: () => buildRunnerState(config, registry, availability, RUNNER_VERSION),
      dispatcher,
      heartbeatMs: config.cloud.heartbeatEveryMs,
      reconnectMinMs: config.cloud.reconnectMinMs,
      reconnectMaxMs: config.cloud.reconnectMaxMs,
      log,
      beforeConnect: async () => {
        token = await refreshIfDue(credentials, token);
      },
    });

    const poll = setInterval(async () => {
      const next = await checkAvailability(registry, pathEnv);
      if (!sameAvailability(next, availability)) {
        availability = next;
        session.advertise();
      }
    }, options.availabilityPollMs ?? 30_000);
    // A session can outlive the refresh point: check hourly, not only before connecting.
    const refresh = setInterval(async () => {
      token = await refreshIfDue(credentials, token);
    }, 3_600_000);

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: cancelling ${dispatcher.inFlight} run(s) and waiting for their results`);
      await dispatcher.shutdown();
      session.stop();
    };
    const onHup = () => {
      reload().then(
        () => log('packs reloaded'),
        (error) => log(`reload failed, keeping the loaded packs: ${errorMessage(error)}`),
      );
    };
    const onTerm = (signal: NodeJS.Signals) => void stop(signal);
    if (options.handleSignals) {
      process.on('SIGHUP', onHup);
      process.on('SIGINT', onTerm);
      process.on('SIGTERM', onTerm);
    }
    daemonControls = { stop: () => stop('stop'), reload };

    const end = await session.run();
    clearInterval(poll);
    clearInterval(refresh);
    if (options.handleSignals) {
      process.off('SIGHUP', onHup);
      process.off('SIGINT', onTerm);
      process.off('SIGTERM', onTerm);
    }
    await dispatcher.shutdown();
    switch (end.kind) {
      case 'unauthorized':
        await discardToken(tokenPath);
        return {
          code: 1,
          why: 'the control plane refused the token; it was discarded (restart to re-register)',
        };
      case 'terminal_shutdown':
        await writeFileAtomic(
          terminalPath,
          `${JSON.stringify({ reason: end.reason, time: new Date().toISOString() })}\n`,
          0o640,
        );
        return { code: 0, why: `control plane shutdown: ${end.reason}` };
      default:
        return { code: 0, why: 'stopped' };
    }
  } finally {
    daemonControls = undefined;
    await journal.close();
    await releaseLock();
  }
}

/**
 * Registration when the control plane is unreachable, busy (429, honouring its
 * Retry-After) or failing (5xx) is retried with the session's backoff; any other
 * refusal (4xx) or a bad token file ends start-up at once.
 */
async function obtainTokenPatiently(
  credentials: CredentialOptions,
  config: RunnerConfig,
): Promise<TokenFile> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await obtainToken(credentials);
    } catch (error) {
      const busy = error instanceof EnrollmentError && error.retryable;
      if (!(error instanceof TypeError) && !busy) throw error; // TypeError: network, DNS, TLS
      const delay = Math.max(
        backoffDelay(attempt, config.cloud.reconnectMinMs, config.cloud.reconnectMaxMs),
        busy ? (error.retryAfterMs ?? 0) : 0,
      );
      credentials.log(
        `control plane ${busy ? 'busy' : 'unreachable'} (${errorMessage(error)}); retrying in ${delay} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** In-process handle on the running daemon (tests use it; the CLI uses signals). */
export let daemonControls: { stop: () => Promise<void>; reload: () => Promise<void> } | undefined;
