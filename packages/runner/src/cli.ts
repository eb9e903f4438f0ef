#!/usr/bin/env node
import { PROTOCOL_VERSION } from '@emisar/protocol';
import { Command } from 'commander';
import { registerActionCommands } from './cli/action.js';
import { registerAuditCommands } from './cli/audit.js';
import {
  configFor,
  EXIT_USAGE,
  exitCodeOf,
  globals,
  print,
  printJson,
  refuseJson,
} from './cli/common.js';
import { registerDoctorCommand } from './cli/doctor.js';
import { registerEventsCommands } from './cli/events.js';
import { registerPackCommands } from './cli/pack.js';
import { runDaemon } from './daemon.js';
import { loadRegistry } from './engine/registry.js';
import { buildRunnerState, checkAvailability } from './engine/state.js';
import { errorMessage } from './fs-util.js';
import { RUNNER_VERSION } from './version.js';

const program = new Command('emisar')
  .description('The emisar runner: runs declared actions on this host for the emisar control plane')
  .version(`emisar ${RUNNER_VERSION}`, '-V, --version', 'print the version')
  .option(
    '--config <path>',
    'config file (else $EMISAR_CONFIG, /etc/emisar/config.yaml, ~/.config/emisar/config.yaml)',
  )
  .option('--packs-dir <path>', 'use this packs path instead of paths.packs')
  .option('--json', 'machine-readable output (an error on commands without it)')
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  });

program
  .command('connect')
  .description('run the daemon: connect to the control plane and execute dispatched actions')
  .action(async (_opts: unknown, command: Command) => {
    refuseJson(command);
    const config = await configFor(command);
    const exit = await runDaemon({ config, handleSignals: true });
    process.stderr.write(`emisar: ${exit.why}\n`);
    process.exit(exit.code);
  });

program
  .command('state')
  .description('print the runner_state this runner would send')
  .action(async (_opts: unknown, command: Command) => {
    const config = await configFor(command);
    const registry = await loadRegistry(config);
    const availability = await checkAvailability(registry, process.env.PATH ?? '');
    printJson(buildRunnerState(config, registry, availability, RUNNER_VERSION));
  });

program
  .command('version')
  .description('version information')
  .action((_opts: unknown, command: Command) => {
    const info = {
      version: RUNNER_VERSION,
      protocol_version: PROTOCOL_VERSION,
      node: process.version,
    };
    if (globals(command).json) printJson(info);
    else print(`emisar ${info.version} (protocol ${info.protocol_version}, node ${info.node})`);
  });

registerActionCommands(program);
registerPackCommands(program);
registerDoctorCommand(program);
registerEventsCommands(program);
registerAuditCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`emisar: ${errorMessage(error).split('\n')[0]}\n`);
  process.exit(exitCodeOf(error));
});
