import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Containment } from './cgroup.js';
import { RunCgroup } from './cgroup.js';
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
  const [file, args] = spec.setpriv
    ? [spec.setpriv.path, [...setprivArgs(spec.user), spec.file, ...spec.args]]
    : [spec.file, spec.args];

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
  const start = () =>
    spawn(file, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  try {
    child = cgroup ? cgroup.spawnInside(start, writeFileSync) : start();
  } catch (error) {
    await cgroup?.remove();
    return { ...outcome, startError: (error as Error).message };
  }

  const spawned = new Promise<string | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error.message));
  });
  const startError = await spawned;
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

  let exitedYet = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const signalGroup = (signal: KillStep) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {}
  };
  const terminate = (why: 'timeout' | 'cancel') => {
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
    }, spec.graceMs);
  };

  const timeoutTimer = setTimeout(() => terminate('timeout'), spec.timeoutMs);
  const onAbort = () => terminate('cancel');
  if (spec.signal?.aborted) onAbort();
  spec.signal?.addEventListener('abort', onAbort, { once: true });

  await exited;
  exitedYet = true;
  clearTimeout(timeoutTimer);
  clearTimeout(graceTimer);
  spec.signal?.removeEventListener('abort', onAbort);
  // Leftovers in the group (and cgroup) die with the program.
  signalGroup('SIGKILL');
  await cgroup?.kill();

  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    pipesClosed.then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), spec.drainMs);
    }),
  ]);
  clearTimeout(drainTimer);
  if (!drained) {
    outcome.pipesAbandoned = true;
    child.stdout!.destroy();
    child.stderr!.destroy();
  }
  await cgroup?.remove();
  outcome.durationMs = performance.now() - started;
  return outcome;
}
