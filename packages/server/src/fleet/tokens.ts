import type { AccountQueries } from '../accounts/index.js';
import { findBySecret, mintSecret, SECRET_PREFIX } from '../core/secrets.js';
import type { Db, Tx } from '../core/tx.js';

/** A predecessor stays valid this long after its successor is minted. */
export const PREDECESSOR_GRACE_MS = 24 * 3_600_000;

export interface IssuedRunnerToken {
  token: string;
  /** RFC 3339. */
  refresh_after: string;
}

/** Refresh is due after two thirds of the token's life (60 of 90 days). */
export function refreshAfter(issuedAt: Date, ttlMs: number): Date {
  return new Date(issuedAt.getTime() + Math.floor((ttlMs * 2) / 3));
}

export async function mintRunnerToken(
  trx: Tx,
  runner: { id: string; accountId: string },
  now: Date,
  ttlMs: number,
): Promise<IssuedRunnerToken> {
  const minted = mintSecret(SECRET_PREFIX.runnerToken);
  const due = refreshAfter(now, ttlMs).toISOString();
  await trx
    .insertInto('runner_tokens')
    .values({
      account_id: runner.accountId,
      runner_id: runner.id,
      lookup: minted.lookup,
      digest: minted.digest,
      expires_at: new Date(now.getTime() + ttlMs).toISOString(),
      refresh_after: due,
      created_at: now.toISOString(),
    })
    .execute();
  return { token: minted.secret, refresh_after: due };
}

export async function revokeRunnerTokens(
  trx: Tx,
  runner: { id: string; accountId: string },
  now: Date,
): Promise<void> {
  await trx
    .updateTable('runner_tokens')
    .set({ revoked_at: now.toISOString() })
    .where('runner_id', '=', runner.id)
    .where('account_id', '=', runner.accountId)
    .where('revoked_at', 'is', null)
    .execute();
}

export interface AuthenticatedRunner {
  tokenId: string;
  runnerId: string;
  accountId: string;
  name: string;
  group: string;
  refreshAfter: string;
  runnerDisabled: boolean;
  accountDisabled: boolean;
}

export type RunnerTokenCheck =
  | { status: 'ok'; runner: AuthenticatedRunner }
  | { status: 'token_invalid' }
  | { status: 'token_expired' };

export interface RunnerTokenDeps {
  db: Db;
  accounts: Pick<AccountQueries, 'findAccountById'>;
}

const BEARER = /^Bearer ([!-~]{1,512})$/;

export function bearerOf(authorization: string | undefined): string | null {
  return BEARER.exec(authorization ?? '')?.[1] ?? null;
}

/**
 * Checks a runner token: unknown, revoked, superseded more than 24 h ago, or
 * belonging to a deleted runner or account is `token_invalid`; past its expiry
 * `token_expired`. Disabled runners and accounts authenticate (the caller
 * answers 403 so the runner keeps its token).
 */
export async function authenticateRunnerToken(
  deps: RunnerTokenDeps,
  secret: string | null,
  now: Date,
): Promise<RunnerTokenCheck> {
  const { db } = deps;
  const row = await findBySecret(secret, SECRET_PREFIX.runnerToken, (lookup) =>
    db
      .selectFrom('runner_tokens as t')
      .innerJoin('runners as r', 'r.id', 't.runner_id')
      .select([
        't.id',
        't.digest',
        't.expires_at',
        't.refresh_after',
        't.succeeded_at',
        't.revoked_at',
        't.runner_id',
        't.account_id',
        'r.name',
        'r.group_name',
        'r.disabled_at',
        'r.deleted_at',
      ])
      .where('t.lookup', '=', lookup)
      .executeTakeFirst(),
  );
  const account = row && (await deps.accounts.findAccountById(db, row.account_id));
  if (!row || !account) return { status: 'token_invalid' };
  const graceOver =
    row.succeeded_at !== null &&
    new Date(row.succeeded_at).getTime() + PREDECESSOR_GRACE_MS <= now.getTime();
  if (row.revoked_at || graceOver || row.deleted_at || account.deleted_at) {
    return { status: 'token_invalid' };
  }
  if (new Date(row.expires_at) <= now) return { status: 'token_expired' };
  return {
    status: 'ok',
    runner: {
      tokenId: row.id,
      runnerId: row.runner_id,
      accountId: row.account_id,
      name: row.name,
      group: row.group_name,
      refreshAfter: row.refresh_after,
      runnerDisabled: row.disabled_at !== null,
      accountDisabled: account.disabled_at !== null || account.deletion_requested_at !== null,
    },
  };
}
