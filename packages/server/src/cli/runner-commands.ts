import type { Command } from 'commander';
import { accountQueries } from '../accounts/index.js';
import { createNotifyBus } from '../bus/notify-bus.js';
import { catalogQueries } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import { systemClock } from '../core/clock.js';
import { createFleetService, type FleetService } from '../fleet/index.js';
import { cliContext, notFound, operatorAccess, print, withDatabase } from './support.js';

type Options = { account: string; json?: boolean };

/** Runs the action with the fleet service; its bus tells a connected runner what changed. */
function withFleet<T>(
  slug: string,
  action: (fleet: FleetService, access: AccountAccess) => Promise<T>,
): Promise<T> {
  return withDatabase(async (db, _config, storage) => {
    const bus = createNotifyBus(storage);
    try {
      const fleet = createFleetService({
        db,
        clock: systemClock,
        bus,
        accounts: accountQueries,
        catalog: catalogQueries,
      });
      return await action(fleet, await operatorAccess(db, slug));
    } finally {
      await bus.close();
    }
  });
}

const CHANGES = {
  disable: {
    method: 'disable',
    done: 'disabled',
    says: 'disconnect a runner and refuse it until enabled',
  },
  enable: { method: 'enable', done: 'enabled', says: 'let a disabled runner connect again' },
  delete: {
    method: 'remove',
    done: 'deleted',
    says: 'delete a runner and revoke its tokens (it must enroll again)',
  },
} as const;

/** `runner list|disable|enable|delete`. */
export function registerRunnerCommands(program: Command): void {
  const runner = program.command('runner').description('runners');
  runner
    .command('list')
    .description("list the workspace's runners")
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (options: Options) => {
      const runners = await withFleet(options.account, (fleet, access) =>
        fleet.listRunners(access),
      );
      print(
        options.json,
        { runners },
        runners.length
          ? runners.map(
              (r) =>
                `${r.id}  ${r.name}  group ${r.group}  ${r.disabled ? 'disabled' : r.online ? 'online' : 'offline'}`,
            )
          : ['no runners'],
      );
    });
  for (const [name, change] of Object.entries(CHANGES)) {
    runner
      .command(name)
      .description(change.says)
      .argument('<runner>', 'the runner: its id, ref or name (from runner list)')
      .requiredOption('--account <slug>', 'the workspace')
      .option('--json', 'print JSON')
      .action(async (id: string, options: Options) => {
        await withFleet(options.account, (fleet, access) =>
          fleet[change.method](access, id, cliContext).catch(notFound(`runner ${id}`)),
        );
        print(options.json, { id, [change.done]: true }, [`runner ${id} ${change.done}`]);
      });
  }
}
