import type { Command } from 'commander';
import { ConfigError, loadRunnerConfig, type RunnerConfig } from '../config/config.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface GlobalOptions {
  config?: string;
  packsDir?: string;
  json?: boolean;
}

/** A failure the CLI reports on one line with the given exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
  }
}

export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export async function configFor(command: Command): Promise<RunnerConfig> {
  const opts = globals(command);
  return loadRunnerConfig({ explicitPath: opts.config, packsDir: opts.packsDir });
}

/** For commands that have no JSON output: --json is a usage error. */
export function refuseJson(command: Command): void {
  if (globals(command).json)
    throw new CliError(`${command.name()} has no --json output`, EXIT_USAGE);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
  );
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return EXIT_USAGE;
  if (error instanceof CliError) return error.exitCode;
  return EXIT_FAILURE;
}
