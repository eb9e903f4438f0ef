import type { Kysely, Selectable } from 'kysely';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import type { MailOutbox } from '../mail/outbox.js';
import type { ReleaseChecks } from './release-checks.js';
import type { RunRelease } from './run-release.js';
import type { ApprovalRequestsTable } from './tables.js';

export type ApprovalRow = Selectable<ApprovalRequestsTable>;

export interface ApprovalsDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
  outbox: MailOutbox;
  baseUrl: string;
  runRelease: RunRelease;
  /** `APPROVAL_TTL`. */
  approvalTtlMs: number;
  checks?: ReleaseChecks;
}

/** What every step of the approvals domain works with: its deps, with the release checks settled. */
export interface ApprovalsContext extends ApprovalsDeps {
  checks: ReleaseChecks;
}
