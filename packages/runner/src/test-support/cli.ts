import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI (npm run build first; `npm test` does). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts `emisar connect` as a real process. */
export function spawnDaemon(configPath: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, 'connect', '--config', configPath], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.resume();
  return { child, stderr: () => stderr };
}
