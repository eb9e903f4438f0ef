import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { emailSchema, findOrCreateUser } from '../auth/users.js';
import { PLANS } from '../billing/plans.js';
import { loadConfig, type ServerConfig } from '../config.js';
import { systemActor } from '../core/actor.js';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { systemContext } from '../core/context.js';
import { DomainError } from '../core/errors.js';
import { issueApiKey, issueEnrollmentKey } from '../credentials/issue.js';
import { openCheckedStorage } from '../db/checked-storage.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';
import { mintBootstrapLink } from './bootstrap.js';
import { findLiveAccountBySlug } from './queries.js';
import { createAccount, setPlan } from './service.js';

const context = systemContext('cli');
const actor = systemActor('cli');

/** Opens the configured database (migrating it first), runs the action, closes it. */
async function withDatabase<T>(
  action: (db: Kysely<Database>, config: ServerConfig) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(process.env);
  const storage = await openCheckedStorage(config.storage);
  try {
    await migrateToLatest(storage.db);
    return await action(storage.db, config);
  } catch (error) {
    // Bad input is a usage problem (exit 2); the message is already written for people.
    if (error instanceof DomainError && error.kind === 'invalid')
      throw new ConfigError(error.message);
    throw error;
  } finally {
    await storage.close();
  }
}

/** `--json` prints one JSON object; otherwise readable lines. Secrets are printed once, here. */
function print(json: boolean, value: Record<string, unknown>, lines: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${lines.join('\n')}\n`);
}

function positiveInt(name: string) {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ConfigError(`${name} must be a positive integer`);
    return value;
  };
}

async function accountBySlug(db: Kysely<Database>, slug: string) {
  const account = await findLiveAccountBySlug(db, slug);
  if (!account) throw new Error(`no account "${slug}"`);
  return account;
}

/** `account create`, `api-key create`, `enrollment-key create`, `plan set`, `bootstrap`. */
export function registerIdentityCommands(program: Command): void {
  program
    .command('account')
    .description('workspaces')
    .command('create')
    .description('create a workspace and its owner (who signs in with an emailed code)')
    .requiredOption('--email <email>', "the owner's email")
    .requiredOption('--workspace <name>', 'the workspace name')
    .option('--slug <slug>', 'the workspace slug (default: from the name)')
    .option('--json', 'print JSON', false)
    .action(async (options: { email: string; workspace: string; slug?: string; json: boolean }) => {
      const email = emailSchema.safeParse(options.email);
      if (!email.success) throw new ConfigError('--email is not a valid email address');
      const name = options.workspace.trim();
      if (!name || name.length > 80) throw new ConfigError('--workspace must be 1–80 characters');
      const created = await withDatabase((db) =>
        db.transaction().execute(async (trx) => {
          const { user } = await findOrCreateUser(trx, email.data, null);
          return createAccount(
            trx,
            { name, owner: user, ...(options.slug !== undefined ? { slug: options.slug } : {}) },
            { clock: systemClock, context },
          );
        }),
      );
      print(
        options.json,
        {
          account_id: created.account.id,
          slug: created.account.slug,
          owner: email.data,
          plan: created.account.plan,
        },
        [
          `created workspace ${created.account.slug} (${created.account.id}) owned by ${email.data}`,
        ],
      );
    });

  program
    .command('api-key')
    .description('API keys')
    .command('create')
    .description('mint an API key and print its secret once')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--kind <kind>', 'mcp or audit_export', 'mcp')
    .option('--member <email>', 'mcp keys: the member it acts as (default: the first owner)')
    .option('--name <name>', 'a label', 'cli')
    .option(
      '--expires-in-days <n>',
      'mcp keys: lifetime in days (default 30)',
      positiveInt('--expires-in-days'),
    )
    .option('--json', 'print JSON', false)
    .action(
      async (options: {
        account: string;
        kind: string;
        member?: string;
        name: string;
        expiresInDays?: number;
        json: boolean;
      }) => {
        if (options.kind !== 'mcp' && options.kind !== 'audit_export') {
          throw new ConfigError('--kind must be mcp or audit_export');
        }
        const kind = options.kind;
        if (kind === 'audit_export' && options.member) {
          throw new ConfigError('an audit_export key belongs to the account: drop --member');
        }
        const key = await withDatabase(async (db) => {
          const account = await accountBySlug(db, options.account);
          let query = db
            .selectFrom('memberships as m')
            .innerJoin('users as u', 'u.id', 'm.user_id')
            .select(['m.id', 'u.email'])
            .where('m.account_id', '=', account.id)
            .where('m.deleted_at', 'is', null)
            .where('m.suspended_at', 'is', null)
            .where('m.accepted_at', 'is not', null);
          query = options.member
            ? query.where('u.email', '=', options.member.trim().toLowerCase())
            : query.where('m.role', '=', 'owner').orderBy('m.created_at');
          const member = kind === 'mcp' ? await query.limit(1).executeTakeFirst() : undefined;
          if (kind === 'mcp' && !member) {
            throw new Error(
              options.member
                ? `${options.member} is not an active member of ${account.slug}`
                : `${account.slug} has no active owner`,
            );
          }
          const created = await db.transaction().execute((trx) =>
            issueApiKey(
              trx,
              { accountId: account.id, actor, createdBy: null, context },
              {
                kind,
                membershipId: member?.id ?? null,
                name: options.name,
                ...(options.expiresInDays
                  ? {
                      expiresAt: new Date(
                        systemClock.now().getTime() + options.expiresInDays * 86_400_000,
                      ),
                    }
                  : {}),
              },
              systemClock,
            ),
          );
          return { ...created, member: member?.email ?? null };
        });
        print(
          options.json,
          { id: key.id, kind, member: key.member, expires_at: key.expiresAt, secret: key.secret },
          [
            `API key ${key.id} (${kind}${key.member ? `, acts as ${key.member}` : ''}, expires ${key.expiresAt ?? 'never'})`,
            'secret (shown once):',
            key.secret,
          ],
        );
      },
    );

  program
    .command('enrollment-key')
    .description('runner enrollment keys')
    .command('create')
    .description('mint an enrollment key and print its secret once')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--group <group>', 'pin enrolled runners to this group')
    .option('--reusable', 'allow several enrollments (default: single use)', false)
    .option('--max-uses <n>', 'reusable keys: how many enrollments', positiveInt('--max-uses'))
    .option(
      '--expires-in-hours <n>',
      'lifetime (default 24 h single-use, 30 days reusable)',
      positiveInt('--expires-in-hours'),
    )
    .option('--name <name>', 'a label', 'cli')
    .option('--json', 'print JSON', false)
    .action(
      async (options: {
        account: string;
        group?: string;
        reusable: boolean;
        maxUses?: number;
        expiresInHours?: number;
        name: string;
        json: boolean;
      }) => {
        if (options.maxUses && !options.reusable)
          throw new ConfigError('--max-uses needs --reusable');
        if (options.group !== undefined && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(options.group)) {
          throw new ConfigError('--group must be lowercase letters, digits, ".", "_" or "-"');
        }
        const key = await withDatabase(async (db) => {
          const account = await accountBySlug(db, options.account);
          return db.transaction().execute((trx) =>
            issueEnrollmentKey(
              trx,
              { accountId: account.id, actor, createdBy: null, context },
              {
                name: options.name,
                reusable: options.reusable,
                maxUses: options.maxUses ?? null,
                pinnedGroup: options.group ?? null,
                ...(options.expiresInHours
                  ? {
                      expiresAt: new Date(
                        systemClock.now().getTime() + options.expiresInHours * 3_600_000,
                      ),
                    }
                  : {}),
              },
              systemClock,
            ),
          );
        });
        print(
          options.json,
          {
            id: key.id,
            reusable: options.reusable,
            group: options.group ?? null,
            expires_at: key.expiresAt,
            secret: key.secret,
          },
          [
            `enrollment key ${key.id} (${options.reusable ? 'reusable' : 'single use'}, expires ${key.expiresAt})`,
            'secret (shown once):',
            key.secret,
          ],
        );
      },
    );

  program
    .command('plan')
    .description('plans')
    .command('set')
    .description(`set a workspace's plan (${PLANS.join(', ')}) on installs without Paddle`)
    .argument('<account>', 'the workspace slug')
    .argument('<plan>', PLANS.join(' | '))
    .option('--json', 'print JSON', false)
    .action(async (slug: string, plan: string, options: { json: boolean }) => {
      const changed = await withDatabase((db) => setPlan(db, slug, plan, { context }));
      print(options.json, { account: slug, ...changed }, [
        `${slug}: plan ${changed.from} → ${changed.to}`,
      ]);
    });

  program
    .command('bootstrap')
    .description(
      'print a one-time sign-in link for the first owner (15 minutes, this machine only)',
    )
    .option('--json', 'print JSON', false)
    .action(async (options: { json: boolean }) => {
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
