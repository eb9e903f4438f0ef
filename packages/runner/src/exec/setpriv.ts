import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { findExecutable } from './executable.js';

export interface Setpriv {
  path: string;
}

/** util-linux setpriv with --no-new-privs and --pdeathsig, or undefined (weaker guarantee). */
export async function detectSetpriv(pathEnv: string | undefined): Promise<Setpriv | undefined> {
  if (process.platform !== 'linux') return undefined;
  const path = await findExecutable('setpriv', pathEnv ?? '/usr/bin:/bin:/usr/sbin:/sbin');
  if (!path) return undefined;
  try {
    const { stdout } = await promisify(execFile)(path, ['--help'], { timeout: 5000 });
    return stdout.includes('--pdeathsig') && stdout.includes('--no-new-privs')
      ? { path }
      : undefined;
  } catch {
    return undefined;
  }
}

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

/** Looks a user up by name or numeric uid in /etc/passwd. */
export async function lookupUser(nameOrUid: string): Promise<UnixUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (!name || uid === undefined || gid === undefined) continue;
    if (name === nameOrUid || uid === nameOrUid)
      return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** The setpriv prefix for a child: no new privileges, dies with the runner, optional user drop. */
export function setprivArgs(user: UnixUser | undefined): string[] {
  const args = ['--no-new-privs', '--pdeathsig', 'KILL'];
  if (user) args.push('--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups');
  return [...args, '--'];
}
