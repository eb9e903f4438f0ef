import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { findUserByEmail, findUserById } from '../auth/index.js';
import type { AccountAccess } from '../core/access.js';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/config-error.js';
import {
  type CredentialService,
  createCredentialService,
  issueApiKey,
  issueEnrollmentKey,
} from '../credentials/index.js';
import type { Database } from '../db/schema.js';
import { activeOwners, findActiveMembership } from '../members/index.js';
import {
  accountBySlug,
  cliActor,
  cliContext,
  expiresIn,
  notFound,
  operatorAccess,
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

/** `api-key create|list|revoke`. */
export function registerApiKeyCommands(program: Command): void {
  const apiKey = program.command('api-key').description('API keys');
  apiKey
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
  apiKey
    .command('list')
    .description("list the workspace's API keys, newest first (never their secrets)")
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const keys = await withCredentials(options.account, (credentials, access) =>
        credentials.listApiKeys(access),
      );
      print(
        options.json,
        { api_keys: keys },
        keys.length
          ? keys.map(
              (k) =>
                `${k.id}  ${k.kind}  ${k.name}  ${stateOf(k)}  expires ${k.expires_at ?? 'never'}`,
            )
          : ['no API keys'],
      );
    });
  apiKey
    .command('revoke')
    .description('revoke an API key: it stops working at once')
    .argument('<id>', 'the key id (from api-key list)')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { account: string; json?: boolean }) => {
      await withCredentials(options.account, (credentials, access) =>
        credentials.revokeApiKey(access, id, cliContext).catch(notFound(`API key ${id}`)),
      );
      print(options.json, { id, revoked: true }, [`API key ${id} revoked`]);
    });
}

/** `enrollment-key create|list|revoke`. */
export function registerEnrollmentKeyCommands(program: Command): void {
  const enrollmentKey = program.command('enrollment-key').description('runner enrollment keys');
  enrollmentKey
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
  enrollmentKey
    .command('list')
    .description("list the workspace's enrollment keys, newest first (never their secrets)")
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (options: { account: string; json?: boolean }) => {
      const keys = await withCredentials(options.account, (credentials, access) =>
        credentials.listEnrollmentKeys(access),
      );
      print(
        options.json,
        { enrollment_keys: keys },
        keys.length
          ? keys.map(
              (k) =>
                `${k.id}  ${k.name}  ${k.reusable ? `reusable, ${k.uses}/${k.max_uses ?? '∞'} used` : `single use, ${k.uses} used`}  ${stateOf(k)}  expires ${k.expires_at}`,
            )
          : ['no enrollment keys'],
      );
    });
  enrollmentKey
    .command('revoke')
    .description('revoke an enrollment key: no runner can enroll with it any more')
    .argument('<id>', 'the key id (from enrollment-key list)')
    .requiredOption('--account <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { account: string; json?: boolean }) => {
      await withCredentials(options.account, (credentials, access) =>
        credentials
          .revokeEnrollmentKey(access, id, cliContext)
          .catch(notFound(`enrollment key ${id}`)),
      );
      print(options.json, { id, revoked: true }, [`enrollment key ${id} revoked`]);
    });
}

function withCredentials<T>(
  slug: string,
  action: (credentials: CredentialService, access: AccountAccess) => Promise<T>,
): Promise<T> {
  return withDatabase(async (db) =>
    action(createCredentialService({ db, clock: systemClock }), await operatorAccess(db, slug)),
  );
}

function stateOf(key: { revoked_at: string | null; expires_at: string | null }): string {
  if (key.revoked_at) return `revoked ${key.revoked_at}`;
  if (key.expires_at && new Date(key.expires_at) <= systemClock.now()) return 'expired';
  return 'live';
}
