import type { Kysely, Selectable } from 'kysely';
import type { AccountQueries } from '../accounts/index.js';
import type { AuthQueries } from '../auth/index.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { CredentialQueries } from '../credentials/index.js';
import type { Database } from '../db/schema.js';
import type { MailOutbox } from '../mail/index.js';
import type { MemberQueries } from '../members/index.js';
import type { DecidePolicy } from '../policy/index.js';
import type { RunRelease } from './run-release.js';
import type { ApprovalRequestsTable } from './tables.js';

export type ApprovalRow = Selectable<ApprovalRequestsTable>;

export interface RunnerNow {
  id: string;
  name: string;
  group: string;
  disabled: boolean;
  deleted: boolean;
}

export type ContractNow = { ok: true; risk: string } | { ok: false; reason: string };

/**
 * What an approval re-reads from the fleet and catalog at release: the runner
 * as it is now (its group may have changed) and whether the pack is still
 * trusted with the same contract (risk from the trusted descriptor).
 */
export interface ReleaseChecks {
  runner(trx: Kysely<Database>, accountId: string, runnerId: string): Promise<RunnerNow | null>;
  contract(
    trx: Kysely<Database>,
    query: { accountId: string; runnerId: string; actionId: string; packRef: string },
  ): Promise<ContractNow>;
}

export interface ApprovalsDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  outbox: MailOutbox;
  baseUrl: string;
  runRelease: RunRelease;
  /** `APPROVAL_TTL`. */
  approvalTtlMs: number;
  checks: ReleaseChecks;
  decidePolicy: DecidePolicy;
  accounts: Pick<AccountQueries, 'findAccountById'>;
  auth: Pick<AuthQueries, 'usersByIds'>;
  members: Pick<
    MemberQueries,
    'activeMembersWithRoles' | 'findActiveMembership' | 'findJoinedMembership'
  >;
  credentials: Pick<CredentialQueries, 'apiKeyLineage' | 'liveLineageKeyHolders'>;
}

/** What every step of the approvals domain works with. */
export type ApprovalsContext = ApprovalsDeps;
