import type { Command } from 'commander';
import {
  registerAccountCommands,
  registerBootstrapCommand,
  registerPlanCommands,
} from './account-commands.js';
import { registerApiKeyCommands, registerEnrollmentKeyCommands } from './key-commands.js';

/** `account create`, `api-key create`, `enrollment-key create`, `plan set`, `bootstrap`. */
export function registerIdentityCommands(program: Command): void {
  registerAccountCommands(program);
  registerApiKeyCommands(program);
  registerEnrollmentKeyCommands(program);
  registerPlanCommands(program);
  registerBootstrapCommand(program);
}
