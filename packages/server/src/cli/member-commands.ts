import type { Command } from 'commander';
import { authQueries } from '../auth/index.js';
import { memberViews } from '../members/index.js';
import { accountBySlug, print, withDatabase } from './support.js';

/** `members list`: the workspace's team, as the console's team page lists it. */
export function registerMemberCommands(program: Command): void {
  program
    .command('members')
    .description("a workspace's team")
    .command('list')
    .description('list the members who joined (not pending invitations)')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const members = await withDatabase(async (db) => {
        const account = await accountBySlug(db, options.account);
        return memberViews({ db, auth: authQueries }, account.id, { joined: true });
      });
      print(
        options.json,
        { members },
        members.map((m) => `${m.id}  ${m.email}  ${m.role}${m.suspended_at ? '  suspended' : ''}`),
      );
    });
}
