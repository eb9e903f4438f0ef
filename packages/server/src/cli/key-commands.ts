import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { findUserByEmail, findUserById } from '../auth/index.js';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import { issueApiKey, issueEnrollmentKey } from '../credentials/index.js';
import type { Database } from '../db/schema.js';
import { activeOwners, findActiveMembership } from '../members/index.js';
import {
  accountBySlug,
  cliActor,
  cliContext,
  expiresIn,
  positiveInt,
  print,
  withDatabase,
} from './support.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

interface ApiKeyOptions {
  account: string;
  kind: string;
  member?: string;
  name: string;
  expiresInDays?: number;
  json?: boolean;
}

interface EnrollmentKeyOptions {
  account: string;
  group?: string;
  reusable?: boolean;
  maxUses?: number;
  expiresInHours?: number;
  name: string;
  json?: boolean;
}

/** The active member an mcp key acts as: the one named by email, or the first owner. */
async function actingMember(
  db: Kysely<Database>,
  account: { id: string; slug: string },
  memberEmail: string | undefined,
): Promise<{ id: string; email: string }> {
  const membership = memberEmail
    ? await findUserByEmail(db, memberEmail.trim().toLowerCase()).then(
        (user) => user && findActiveMembership(db, account.id, user.id),
      )
    : (await activeOwners(db, account.id))[0];
  if (!membership) {
    throw new Error(
      memberEmail
        ? `${memberEmail} is not an active member of ${account.slug}`
        : `${account.slug} has no active owner`,
    );
  }
  const user = (await findUserById(db, membership.user_id))!;
  return { id: membership.id, email: user.email };
}

async function createApiKey(options: ApiKeyOptions) {
  if (options.kind !== 'mcp' && options.kind !== 'audit_export') {
    throw new ConfigError('--kind must be mcp or audit_export');
  }
  const kind = options.kind;
  if (kind === 'audit_export' && options.member) {
    throw new ConfigError('an audit_export key belongs to the account: drop --member');
  }
  const key = await withDatabase(async (db) => {
    const account = await accountBySlug(db, options.account);
    const member = kind === 'mcp' ? await actingMember(db, account, options.member) : undefined;
    const created = await db.transaction().execute((trx) =>
      issueApiKey(
        trx,
        { accountId: account.id, actor: cliActor, createdBy: null, context: cliContext },
        {
          kind,
          membershipId: member?.id ?? null,
          name: options.name,
          ...expiresIn(options.expiresInDays, DAY_MS, systemClock.now()),
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
}

async function createEnrollmentKey(options: EnrollmentKeyOptions) {
  if (options.maxUses && options.reusable !== true)
    throw new ConfigError('--max-uses needs --reusable');
  if (options.group !== undefined && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(options.group)) {
    throw new ConfigError('--group must be lowercase letters, digits, ".", "_" or "-"');
  }
  const reusable = options.reusable === true;
  const key = await withDatabase(async (db) => {
    const account = await accountBySlug(db, options.account);
    return db.transaction().execute((trx) =>
      issueEnrollmentKey(
        trx,
        { accountId: account.id, actor: cliActor, createdBy: null, context: cliContext },
        {
          name: options.name,
          reusable,
          maxUses: options.maxUses ?? null,
          pinnedGroup: options.group ?? null,
          ...expiresIn(options.expiresInHours, HOUR_MS, systemClock.now()),
        },
        systemClock,
      ),
    );
  });
  print(
    options.json,
    {
      id: key.id,
      reusable,
      group: options.group ?? null,
      expires_at: key.expiresAt,
      secret: key.secret,
    },
    [
      `enrollment key ${key.id} (${reusable ? 'reusable' : 'single use'}, expires ${key.expiresAt})`,
      'secret (shown once):',
      key.secret,
    ],
  );
}

/** `api-key create`: mints an API key and prints its secret once. */
export function registerApiKeyCommands(program: Command): void {
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
    .option('--json', 'print JSON')
    .action(createApiKey);
}

/** `enrollment-key create`: mints a runner enrollment key and prints its secret once. */
export function registerEnrollmentKeyCommands(program: Command): void {
  program
    .command('enrollment-key')
    .description('runner enrollment keys')
    .command('create')
    .description('mint an enrollment key and print its secret once')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--group <group>', 'pin enrolled runners to this group')
    .option('--reusable', 'allow several enrollments (without it: single use)')
    .option('--max-uses <n>', 'reusable keys: how many enrollments', positiveInt('--max-uses'))
    .option(
      '--expires-in-hours <n>',
      'lifetime (default 24 h single-use, 30 days reusable)',
      positiveInt('--expires-in-hours'),
    )
    .option('--name <name>', 'a label', 'cli')
    .option('--json', 'print JSON')
    .action(createEnrollmentKey);
}
