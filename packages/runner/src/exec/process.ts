import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type Containment, RunCgroup } from './cgroup.js';
import type { Setpriv, UnixUser } from './setpriv.js';
import { setprivArgs } from './setpriv.js';

export type Stream = 'stdout' | 'stderr';

export interface ProcessSpec {
  /** Absolute path of the program (resolved on the child's PATH beforehand). */
  file: string;
  /** Arguments after the program name. */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  user?: UnixUser | undefined;
  timeoutMs: number;
  /** SIGTERM → SIGKILL window for timeout and cancel. */
  graceMs: number;
  /**
   * How long to wait for the pipes to close once the program has exited and its
   * group was killed: an escaped grandchild may hold them forever.
   */
  drainMs: number;
  containment: Containment;
  setpriv: Setpriv | undefined;
  signal?: AbortSignal | undefined;
  onData: (stream: Stream, chunk: Buffer) => void;
}

export type KillStep = 'SIGTERM' | 'SIGKILL';

export interface ProcessOutcome {
  exitCode: number | null;
  exitSignal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** The signals sent to the group, in order (empty when the program ended by itself). */
  killSteps: KillStep[];
  /** The pipes were still held after drainMs and were closed by the runner. */
  pipesAbandoned: boolean;
  pid: number | undefined;
  /** The process could not be started. */
  startError?: string;
}

/**
 * Runs one program, argv as given (never through a shell), in its own process
 * group (and cgroup where delegated). Timeout and cancel send SIGTERM to the
 * group, then SIGKILL after the grace; when the program exits, whatever it left
 * in its group is killed, and pipes an escaped process still holds are abandoned
 * after drainMs, so a run never hangs.
 */
export async function runProcess(spec: ProcessSpec): Promise<ProcessOutcome> {
  const started = performance.now();
  const cgroup =
    spec.containment.mode === 'cgroup' ? await RunCgroup.create(spec.containment.base) : undefined;
  const outcome: ProcessOutcome = {
    exitCode: null,
    exitSignal: null,
    timedOut: false,
    cancelled: false,
    durationMs: 0,
    killSteps: [],
    pipesAbandoned: false,
    pid: undefined,
  };

  let child: ChildProcess;
  try {
    child = spawnInGroup(spec, cgroup);
  } catch (error) {
    await cgroup?.remove();
    return { ...outcome, startError: (error as Error).message };
  }
  const startError = await spawned(child);
  if (startError !== undefined) {
    await cgroup?.remove();
    return { ...outcome, startError, durationMs: performance.now() - started };
  }
  outcome.pid = child.pid;
  child.stdout!.on('data', (chunk: Buffer) => spec.onData('stdout', chunk));
  child.stderr!.on('data', (chunk: Buffer) => spec.onData('stderr', chunk));
  const pipesClosed = Promise.all([
    new Promise((resolve) => child.stdout!.once('close', resolve)),
    new Promise((resolve) => child.stderr!.once('close', resolve)),
  ]);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      outcome.exitCode = code;
      outcome.exitSignal = signal;
      resolve();
    }),
  );

  const termination = groupTermination(child, cgroup, spec.graceMs, outcome);
  const stopWatching = watchTimeoutAndCancel(spec, termination.terminate);
  await exited;
  stopWatching();
  await termination.programExited();

  if (!(await drained(pipesClosed, spec.drainMs))) {
    outcome.pipesAbandoned = true;
    child.stdout!.destroy();
    child.stderr!.destroy();
  }
  await cgroup?.remove();
  outcome.durationMs = performance.now() - started;
  return outcome;
}

/** Spawns the program (through setpriv when it runs as another user) as leader of a new group. */
function spawnInGroup(spec: ProcessSpec, cgroup: RunCgroup | undefined): ChildProcess {
  const [file, args] = spec.setpriv
    ? [spec.setpriv.path, [...setprivArgs(spec.user), spec.file, ...spec.args]]
    : [spec.file, spec.args];
  const start = () =>
    spawn(file, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  return cgroup ? cgroup.spawnInside(start, writeFileSync) : start();
}

/** Resolves once the child started, with the error message when it could not. */
function spawned(child: ChildProcess): Promise<string | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error.message));
  });
}

/**
 * Ending the program's group: `terminate` sends SIGTERM, then SIGKILL after the
 * grace (once, and not after the program exited); `programExited` stops the
 * escalation and kills whatever the program left in its group and cgroup.
 */
function groupTermination(
  child: ChildProcess,
  cgroup: RunCgroup | undefined,
  graceMs: number,
  outcome: ProcessOutcome,
): { terminate: (why: 'timeout' | 'cancel') => void; programExited: () => Promise<void> } {
  let exitedYet = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const signalGroup = (signal: KillStep) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {}
  };
  return {
    terminate(why) {
      if (exitedYet || outcome.killSteps.length > 0) return;
      if (why === 'timeout') outcome.timedOut = true;
      else outcome.cancelled = true;
      outcome.killSteps.push('SIGTERM');
      signalGroup('SIGTERM');
      cgroup?.signalEscaped('SIGTERM', child.pid!);
      graceTimer = setTimeout(() => {
        outcome.killSteps.push('SIGKILL');
        signalGroup('SIGKILL');
        void cgroup?.kill();
      }, graceMs);
    },
    async programExited() {
      exitedYet = true;
      clearTimeout(graceTimer);
      // Leftovers in the group (and cgroup) die with the program.
      signalGroup('SIGKILL');
      await cgroup?.kill();
    },
  };
}

/** Terminates on timeout or when the spec's signal aborts; returns what stops watching. */
function watchTimeoutAndCancel(
  spec: ProcessSpec,
  terminate: (why: 'timeout' | 'cancel') => void,
): () => void {
  const timeoutTimer = setTimeout(() => terminate('timeout'), spec.timeoutMs);
  const onAbort = () => terminate('cancel');
  if (spec.signal?.aborted) onAbort();
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    clearTimeout(timeoutTimer);
    spec.signal?.removeEventListener('abort', onAbort);
  };
}

/** True when the pipes closed within drainMs; false when something still holds them. */
async function drained(pipesClosed: Promise<unknown>, drainMs: number): Promise<boolean> {
  let drainTimer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    pipesClosed.then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), drainMs);
    }),
  ]);
  clearTimeout(drainTimer);
  return closed;
}
