import type { Command } from 'commander';
import {
  registerAccountCommands,
  registerBootstrapCommand,
  registerPlanCommands,
} from './account-commands.js';
import { registerAgentCommands } from './agent-commands.js';
import { registerApiKeyCommands, registerEnrollmentKeyCommands } from './key-commands.js';
import { registerMemberCommands } from './member-commands.js';
import { registerRunnerCommands } from './runner-commands.js';

/** Workspaces, keys, runners, the agent stop switch, members, plans and the bootstrap link. */
export function registerIdentityCommands(program: Command): void {
  registerAccountCommands(program);
  registerApiKeyCommands(program);
  registerEnrollmentKeyCommands(program);
  registerPlanCommands(program);
  registerBootstrapCommand(program);
  registerRunnerCommands(program);
  registerAgentCommands(program);
  registerMemberCommands(program);
}
