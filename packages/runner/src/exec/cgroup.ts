import { constants, readFileSync, writeFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, processAlive } from '../fs-util.js';

/** How runs are contained: a per-run cgroup v2 (killed with cgroup.kill) or a process group. */
export type Containment =
  | { mode: 'cgroup'; base: string }
  | { mode: 'process-group'; reason: string };

/**
 * Finds the cgroup v2 directory this process lives in and checks that it can
 * create a child with cgroup.kill and move a process into it (a delegated,
 * writable subtree: systemd's Delegate=yes, or root). Anything less means
 * process-group containment, which a `setsid` grandchild escapes.
 */
export async function detectContainment(): Promise<Containment> {
  if (process.platform !== 'linux') return { mode: 'process-group', reason: 'not Linux' };
  let base: string;
  try {
    base = await ownCgroupDir();
  } catch (error) {
    return { mode: 'process-group', reason: errorMessage(error) };
  }
  await removeStale(base);
  const probe = join(base, `emisar-probe-${process.pid}`);
  try {
    await mkdir(probe);
  } catch (error) {
    return {
      mode: 'process-group',
      reason: `cannot create a sub-cgroup in ${base}: ${errorMessage(error)}`,
    };
  }
  try {
    await access(join(probe, 'cgroup.kill'), constants.W_OK);
    // Synchronous, back to back: nothing else may spawn while this process sits in the probe.
    writeFileSync(join(probe, 'cgroup.procs'), String(process.pid));
    writeFileSync(join(base, 'cgroup.procs'), String(process.pid));
    return { mode: 'cgroup', base };
  } catch (error) {
    return {
      mode: 'process-group',
      reason: `cgroup ${base} is not usable: ${errorMessage(error)}`,
    };
  } finally {
    await removeCgroup(probe);
  }
}

/** Run cgroups left by a runner that was killed (its PID is gone): kill what is left, remove them. */
async function removeStale(base: string): Promise<void> {
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const name of entries) {
    const owner = /^emisar-(?:run|probe)-(\d+)(?:-\d+)?$/.exec(name);
    if (!owner || processAlive(Number(owner[1]))) continue;
    await writeFile(join(base, name, 'cgroup.kill'), '1').catch(() => {});
    await removeCgroup(join(base, name));
  }
}

/** rmdir, retrying while the kernel finishes reaping what was inside. */
async function removeCgroup(path: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      await writeFile(join(path, 'cgroup.kill'), '1').catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function ownCgroupDir(): Promise<string> {
  const own = (await readFile('/proc/self/cgroup', 'utf8'))
    .split('\n')
    .find((line) => line.startsWith('0::'));
  if (!own) throw new Error('no cgroup v2 membership in /proc/self/cgroup');
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const mount = mounts
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[fields.indexOf('-') + 1] === 'cgroup2');
  if (!mount) throw new Error('no cgroup2 filesystem mounted');
  // mountinfo field 4 is the mount point; field 3 the root of the mount inside the hierarchy.
  const root = mount[3]!;
  const point = mount[4]!;
  const path = own.slice(3);
  const relative = root !== '/' && path.startsWith(root) ? path.slice(root.length) : path;
  return join(point, relative);
}

let runCounter = 0;

/** One run's cgroup: the child is born inside it, and cgroup.kill takes everything in it. */
export class RunCgroup {
  private constructor(
    private readonly base: string,
    readonly path: string,
  ) {}

  static async create(base: string): Promise<RunCgroup> {
    runCounter += 1;
    const path = join(base, `emisar-run-${process.pid}-${runCounter}`);
    await mkdir(path);
    return new RunCgroup(base, path);
  }

  /**
   * Runs a synchronous spawn with this process moved into the run's cgroup, so the
   * child is created inside it (no window in which it could fork outside). Safe
   * because JavaScript here is single-threaded: nothing else spawns meanwhile.
   */
  spawnInside<T>(spawn: () => T, writeSync: (path: string, data: string) => void): T {
    writeSync(join(this.path, 'cgroup.procs'), String(process.pid));
    try {
      return spawn();
    } finally {
      writeSync(join(this.base, 'cgroup.procs'), String(process.pid));
    }
  }

  /**
   * Signals every process in the cgroup outside process group `skipGroup` (which
   * the caller signals as a group): those are the ones that escaped with setsid.
   */
  signalEscaped(signal: NodeJS.Signals, skipGroup: number): void {
    let procs = '';
    try {
      procs = readFileSync(join(this.path, 'cgroup.procs'), 'utf8');
    } catch {}
    for (const pid of procs.split('\n').filter(Boolean)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        if (pgrp !== skipGroup) process.kill(Number(pid), signal);
      } catch {}
    }
  }

  async kill(): Promise<void> {
    await writeFile(join(this.path, 'cgroup.kill'), '1').catch(() => {});
  }

  /** Kills what is left and removes the cgroup (retrying while the kernel reaps). */
  async remove(): Promise<void> {
    await this.kill();
    await removeCgroup(this.path);
  }
}
