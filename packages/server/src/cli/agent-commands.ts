import type { Command } from 'commander';
import { accountQueries } from '../accounts/index.js';
import { catalogQueries } from '../catalog/index.js';
import { systemClock } from '../core/clock.js';
import { fleetQueries } from '../fleet/index.js';
import { createPolicyService } from '../policy/index.js';
import { cliContext, operatorAccess, print, withDatabase } from './support.js';

/** `agents stop|resume`: the workspace's stop switch for every API-key run. */
export function registerAgentCommands(program: Command): void {
  const agents = program.command('agents').description("the workspace's agent stop switch");
  for (const [name, stopped] of [
    ['stop', true],
    ['resume', false],
  ] as const) {
    agents
      .command(name)
      .description(
        stopped
          ? 'refuse every run requested with an API key until resumed'
          : 'let API keys request runs again',
      )
      .requiredOption('--account <slug>', 'the workspace')
      .option('--json', 'print JSON')
      .action(async (options: { account: string; json?: boolean }) => {
        const result = await withDatabase(async (db) => {
          const policies = createPolicyService({
            db,
            clock: systemClock,
            accounts: accountQueries,
            fleet: fleetQueries,
            catalog: catalogQueries,
          });
          return policies.setAgentStop(
            await operatorAccess(db, options.account),
            { stopped },
            cliContext,
          );
        });
        print(options.json, { account: options.account, ...result }, [
          `${options.account}: agents ${stopped ? 'stopped' : 'running'}${result.changed ? '' : ' (unchanged)'}`,
        ]);
      });
  }
}
