import type { Db } from '../core/tx.js';

/** The approval request a run waits on (the newest, should there be several), or null. */
export async function approvalForRun(
  db: Db,
  accountId: string,
  runId: string,
): Promise<{ id: string; status: string; expiresAt: string } | null> {
  const row = await db
    .selectFrom('approval_requests')
    .select(['id', 'status', 'expires_at'])
    .where('account_id', '=', accountId)
    .where('run_id', '=', runId)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, status: row.status, expiresAt: row.expires_at } : null;
}

/** The approvals' tables as other domains may read them. */
export const approvalQueries = { approvalForRun };
export type ApprovalQueries = typeof approvalQueries;
