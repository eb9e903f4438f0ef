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
import type { EngineDeps } from './engine/engine.js';
import { loadRegistry, type Registry } from './engine/registry.js';
import {
  type Availability,
  buildRunnerState,
  checkAvailability,
  sameAvailability,
} from './engine/state.js';
import { errorCode, errorMessage, writeFileAtomic } from './fs-util.js';
import type { Journal } from './journal/journal.js';
import { detectIsolation, engineDeps, openJournal } from './runtime.js';
import { backoffDelay, CloudSession, type SessionEnd } from './session/connection.js';
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
  await refuseAfterTerminalShutdown(terminalPath);

  const releaseLock = await acquireLock(join(dataDir, 'runner.lock'));
  const journal = await openJournal(config).catch(async (error) => {
    await releaseLock();
    throw error;
  });
  try {
    const dispatchLog = await openDispatchLog(
      join(dataDir, 'dispatches.jsonl'),
      config,
      journal,
      log,
    );
    const isolation = await detectIsolation();
    if (isolation.containment.mode !== 'cgroup') {
      log(`process-group containment (${isolation.containment.reason})`);
    }
    const packs = await loadPacks(config, env.PATH ?? '', log);
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
    const token = await runnerToken(credentials, config);

    const { session, dispatcher, reload } = createSession({
      config,
      url,
      log,
      packs,
      token,
      engine: engineDeps(config, journal, isolation),
      journal,
      dispatchLog,
    });
    const stopTimers = startTimers(packs, token, session, options.availabilityPollMs ?? 30_000);
    const stop = stopOnce(dispatcher, session, log);
    const removeSignalHandlers = options.handleSignals
      ? handleSignals(stop, reload, log)
      : () => {};
    daemonControls = { stop: () => stop('stop'), reload };

    const end = await session.run();
    stopTimers();
    removeSignalHandlers();
    await dispatcher.shutdown();
    return await exitFor(end, tokenPath, terminalPath);
  } finally {
    daemonControls = undefined;
    await journal.close();
    await releaseLock();
  }
}

/** A runner the control plane stopped for good stays stopped until its marker file is removed. */
async function refuseAfterTerminalShutdown(terminalPath: string): Promise<void> {
  const terminal = await readFile(terminalPath, 'utf8').catch((error) => {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (terminal !== undefined) {
    throw new DaemonError(
      `the control plane stopped this runner for good (${terminal.trim()}); remove ${terminalPath} to start again`,
    );
  }
}

/** Opens the dispatch log and journals every run a crash left without a stored result. */
async function openDispatchLog(
  path: string,
  config: RunnerConfig,
  journal: Journal,
  log: (message: string) => void,
): Promise<DispatchLog> {
  const { log: dispatchLog, outcomeUnknown } = await DispatchLog.open(path);
  for (const entry of outcomeUnknown) {
    log(`run ${entry.request_id} was interrupted by a crash: reporting execution_outcome_unknown`);
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
  return dispatchLog;
}

/** The loaded packs and which of their executables are available, both replaced on reload. */
interface Packs {
  registry: Registry;
  availability: Availability;
  /** Loads the packs from disk again (atomically: a failed load keeps the current ones). */
  reload(): Promise<void>;
  /** Re-checks availability; true when it changed. */
  recheck(): Promise<boolean>;
}

async function loadPacks(
  config: RunnerConfig,
  pathEnv: string,
  log: (message: string) => void,
): Promise<Packs> {
  const registry = await loadRegistry(config);
  for (const degraded of registry.degraded)
    log(`pack ${degraded.pack} degraded: ${degraded.reason}`);
  const packs: Packs = {
    registry,
    availability: await checkAvailability(registry, pathEnv),
    async reload() {
      packs.registry = await loadRegistry(config, true);
      packs.availability = await checkAvailability(packs.registry, pathEnv);
    },
    async recheck() {
      const next = await checkAvailability(packs.registry, pathEnv);
      if (sameAvailability(next, packs.availability)) return false;
      packs.availability = next;
      return true;
    },
  };
  return packs;
}

/** The runner's token, obtained at start and refreshed when due. */
interface RunnerToken {
  current(): string;
  refresh(): Promise<void>;
}

async function runnerToken(
  credentials: CredentialOptions,
  config: RunnerConfig,
): Promise<RunnerToken> {
  let token: TokenFile = await obtainTokenPatiently(credentials, config);
  return {
    current: () => token.token,
    async refresh() {
      token = await refreshIfDue(credentials, token);
    },
  };
}

/** The dispatcher and the cloud session it runs on, and the pack reload both share. */
function createSession(deps: {
  config: RunnerConfig;
  url: string;
  log: (message: string) => void;
  packs: Packs;
  token: RunnerToken;
  engine: EngineDeps;
  journal: Journal;
  dispatchLog: DispatchLog;
}): { session: CloudSession; dispatcher: Dispatcher; reload: () => Promise<void> } {
  const { config, log, packs, token } = deps;
  let session: CloudSession;
  const reload = async (): Promise<void> => {
    await packs.reload();
    session.advertise();
  };
  const dispatcher = new Dispatcher({
    engine: deps.engine,
    journal: deps.journal,
    dispatchLog: deps.dispatchLog,
    registry: () => packs.registry,
    advertise: async (fromDisk) => {
      if (fromDisk)
        await reload().catch((error) => log(`pack reload failed: ${errorMessage(error)}`));
      session.advertise();
    },
    log,
  });
  session = new CloudSession({
    url: deps.url,
    token: token.current,
    state: () => buildRunnerState(config, packs.registry, packs.availability, RUNNER_VERSION),
    dispatcher,
    heartbeatMs: config.cloud.heartbeatEveryMs,
    reconnectMinMs: config.cloud.reconnectMinMs,
    reconnectMaxMs: config.cloud.reconnectMaxMs,
    log,
    beforeConnect: token.refresh,
  });
  return { session, dispatcher, reload };
}

/** Availability polling and the hourly token check; returns what stops them. */
function startTimers(
  packs: Packs,
  token: RunnerToken,
  session: CloudSession,
  availabilityPollMs: number,
): () => void {
  const poll = setInterval(async () => {
    if (await packs.recheck()) session.advertise();
  }, availabilityPollMs);
  // A session can outlive the refresh point: check hourly, not only before connecting.
  const refresh = setInterval(token.refresh, 3_600_000);
  return () => {
    clearInterval(poll);
    clearInterval(refresh);
  };
}

/** Cancels every run, waits for their results, then closes the session; only the first call acts. */
function stopOnce(
  dispatcher: Dispatcher,
  session: CloudSession,
  log: (message: string) => void,
): (signal: string) => Promise<void> {
  let stopping = false;
  return async (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: cancelling ${dispatcher.inFlight} run(s) and waiting for their results`);
    await dispatcher.shutdown();
    session.stop();
  };
}

/** SIGHUP reloads packs, SIGINT and SIGTERM stop; returns what removes the handlers. */
function handleSignals(
  stop: (signal: string) => Promise<void>,
  reload: () => Promise<void>,
  log: (message: string) => void,
): () => void {
  const onHup = () => {
    reload().then(
      () => log('packs reloaded'),
      (error) => log(`reload failed, keeping the loaded packs: ${errorMessage(error)}`),
    );
  };
  const onTerm = (signal: NodeJS.Signals) => void stop(signal);
  process.on('SIGHUP', onHup);
  process.on('SIGINT', onTerm);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGHUP', onHup);
    process.off('SIGINT', onTerm);
    process.off('SIGTERM', onTerm);
  };
}

/** The exit for how the session ended: a refused token is discarded, a terminal shutdown remembered. */
async function exitFor(
  end: SessionEnd,
  tokenPath: string,
  terminalPath: string,
): Promise<DaemonExit> {
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
