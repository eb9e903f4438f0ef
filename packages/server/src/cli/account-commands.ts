import type { Command } from 'commander';
import { accountQueries } from '../accounts/index.js';
import { emailSchema, findOrCreateUser } from '../auth/index.js';
import { PLANS } from '../billing/index.js';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { createWorkspace, mintBootstrapLink, setPlan } from '../members/index.js';
import { createDefaultPolicy } from '../policy/index.js';
import { cliContext, print, withDatabase } from './support.js';

/** `account create`: a workspace and its owner. */
export function registerAccountCommands(program: Command): void {
  program
    .command('account')
    .description('workspaces')
    .command('create')
    .description('create a workspace and its owner (who signs in with an emailed code)')
    .requiredOption('--email <email>', "the owner's email")
    .requiredOption('--workspace <name>', 'the workspace name')
    .option('--slug <slug>', 'the workspace slug (default: from the name)')
    .option('--json', 'print JSON')
    .action(
      async (options: { email: string; workspace: string; slug?: string; json?: boolean }) => {
        const email = emailSchema.safeParse(options.email);
        if (!email.success) throw new ConfigError('--email is not a valid email address');
        const name = options.workspace.trim();
        if (!name || name.length > 80) throw new ConfigError('--workspace must be 1–80 characters');
        const slug = options.slug !== undefined ? { slug: options.slug } : {};
        const { account } = await withDatabase((db) =>
          db.transaction().execute(async (trx) => {
            const { user } = await findOrCreateUser(trx, email.data, null);
            return createWorkspace(
              trx,
              { name, owner: user, ...slug },
              {
                clock: systemClock,
                accounts: accountQueries,
                createDefaultPolicy,
                context: cliContext,
              },
            );
          }),
        );
        print(
          options.json,
          { account_id: account.id, slug: account.slug, owner: email.data, plan: account.plan },
          [`created workspace ${account.slug} (${account.id}) owned by ${email.data}`],
        );
      },
    );
}

/** `plan set`: self-hosted installs without Paddle. */
export function registerPlanCommands(program: Command): void {
  program
    .command('plan')
    .description('plans')
    .command('set')
    .description(`set a workspace's plan (${PLANS.join(', ')}) on installs without Paddle`)
    .argument('<account>', 'the workspace slug')
    .argument('<plan>', PLANS.join(' | '))
    .option('--json', 'print JSON')
    .action(async (slug: string, plan: string, options: { json?: boolean }) => {
      const changed = await withDatabase((db) => setPlan(db, slug, plan, { context: cliContext }));
      print(options.json, { account: slug, ...changed }, [
        `${slug}: plan ${changed.from} → ${changed.to}`,
      ]);
    });
}

/** `bootstrap`: a one-time sign-in link for the first owner. */
export function registerBootstrapCommand(program: Command): void {
  program
    .command('bootstrap')
    .description(
      'print a one-time sign-in link for the first owner (15 minutes, this machine only)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const minted = await withDatabase((db, config) =>
        mintBootstrapLink(db, config.baseUrl, systemClock),
      );
      if (!minted) {
        throw new Error(
          'no workspace yet: sign up in the console or run `emisar-server account create`',
        );
      }
      print(
        options.json,
        {
          link: minted.link,
          email: minted.email,
          account: minted.accountSlug,
          expires_in_seconds: 900,
        },
        [`sign in as ${minted.email} (once, within 15 minutes, from this machine):`, minted.link],
      );
    });
}
