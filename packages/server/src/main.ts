#!/usr/bin/env node
import { Command } from 'commander';
import { registerAuditCommands } from './audit/index.js';
import { registerCatalogCommands } from './catalog/index.js';
import { registerIdentityCommands } from './cli/identity.js';
import { SERVER_VERSION } from './cli/version.js';
import { loadConfig, loadStorageConfig } from './config.js';
import { ConfigError } from './core/config-error.js';
import { openCheckedStorage } from './db/checked-storage.js';
import { migrateToLatest } from './db/migrate.js';
import { startServer } from './server.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`emisar-server: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`emisar-server: ${message.split('\n')[0]}\n`);
  process.exit(EXIT_FAILURE);
}

const program = new Command('emisar-server')
  .description('The emisar control plane')
  .version(`emisar-server ${SERVER_VERSION}`, '-V, --version', 'print the version')
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  });

program
  .command('start')
  .description('migrate the database, then serve the API (configured by environment)')
  .action(async () => {
    const config = await loadConfig(process.env);
    const server = await startServer(config);
    const stop = (signal: string) => {
      server.app.log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (error) => fail(error),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit (needs only the database settings)')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const storage = await openCheckedStorage(await loadStorageConfig(process.env));
    try {
      const applied = await migrateToLatest(storage.db);
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ applied })}\n`
          : applied.length
            ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n`
            : 'database is up to date\n',
      );
    } finally {
      await storage.close();
    }
  });

registerIdentityCommands(program);

registerAuditCommands(program);

registerCatalogCommands(program);

program.parseAsync(process.argv).catch(fail);
