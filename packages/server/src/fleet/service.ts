import type { ShutdownReason } from '@emisar/protocol';
import type { Selectable, Updateable } from 'kysely';
import type { AccountQueries } from '../accounts/index.js';
import { recordAuditEvent } from '../audit/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AdvertisedAction, CatalogQueries } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, NotFoundError, PaymentRequiredError } from '../core/errors.js';
import { packInReach, runnerInReach } from '../core/roles.js';
import type { Db, Tx } from '../core/tx.js';
import { checkRunnerLimit, leaseLive } from './enrollment.js';
import { findRunnerForDispatch } from './queries.js';
import { notifyRunnerShutdown } from './runner-control.js';
import { RunnerEndpointError } from './runner-errors.js';
import type { RunnersTable } from './tables.js';
import { revokeRunnerTokens } from './tokens.js';

export interface FleetDeps {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  accounts: Pick<AccountQueries, 'lockAccount'>;
  catalog: Pick<CatalogQueries, 'advertisedActions' | 'forgetRunnerActions'>;
}

type RunnerRow = Selectable<RunnersTable>;

export interface RunnerIssue {
  code: 'group_mismatch' | 'pack_degraded' | 'pack_drift' | 'pack_untrusted';
  message: string;
}

function runnerView(row: RunnerRow, now: Date) {
  return {
    id: row.id,
    name: row.name,
    ref: row.ref,
    external_id: row.external_id,
    group: row.group_name,
    hostname: row.hostname,
    labels: row.labels,
    version: row.version,
    online: row.disabled_at === null && leaseLive(row.lease_expires_at, now),
    last_connected_at: row.last_connected_at,
    last_disconnected_at: row.last_disconnected_at,
    last_disconnect_reason: row.last_disconnect_reason,
    disabled: row.disabled_at !== null,
    disabled_at: row.disabled_at,
    awaiting_reenrollment: row.awaiting_reenrollment,
    degraded_packs: row.degraded_packs,
    created_at: row.created_at,
    reenrolled_at: row.reenrolled_at,
  };
}

/** Runners as the console and automation manage them: reach-scoped, audited, live to the runner. */
// A service factory: long as a whole, each step and method within it short.
export function createFleetService(deps: FleetDeps) {
  const { db, clock, bus, catalog } = deps;

  function issuesOf(row: RunnerRow, actions: readonly AdvertisedAction[]): RunnerIssue[] {
    const issues: RunnerIssue[] = [];
    if (row.asserted_group !== null) {
      issues.push({
        code: 'group_mismatch',
        message: `The runner asserts group "${row.asserted_group}"; it stays in "${row.group_name}" (only an admin changes it).`,
      });
    }
    for (const degraded of row.degraded_packs) {
      issues.push({
        code: 'pack_degraded',
        message: `Pack ${degraded.pack} did not load: ${degraded.reason}`,
      });
    }
    const packs = new Map<string, AdvertisedAction>();
    for (const action of actions) packs.set(action.pack_id, action);
    for (const action of packs.values()) {
      if (action.trust === 'drift') {
        issues.push({
          code: 'pack_drift',
          message: `Pack ${action.pack_id}@${action.pack_version} has hash ${action.pack_hash}, not the trusted one: its actions are not dispatchable here.`,
        });
      } else if (action.trust === 'untrusted') {
        issues.push({
          code: 'pack_untrusted',
          message: `Pack ${action.pack_id}@${action.pack_version} is not trusted yet.`,
        });
      }
    }
    return issues;
  }

  /**
   * The runner named by id, ref or name, locked when inside a transaction; 404
   * when missing, deleted or out of reach.
   */
  async function findRunner(
    executor: Db,
    access: AccountAccess,
    runnerIdRefOrName: string,
    lock = false,
  ): Promise<RunnerRow> {
    const named = await findRunnerForDispatch(executor, access.account.id, runnerIdRefOrName);
    if (!named || named.deleted) throw new NotFoundError();
    let query = executor
      .selectFrom('runners')
      .selectAll()
      .where('id', '=', named.id)
      .where('account_id', '=', access.account.id)
      .where('deleted_at', 'is', null);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (
      !row ||
      !runnerInReach(access.membership.runner_access, { id: row.id, group: row.group_name })
    ) {
      throw new NotFoundError();
    }
    return row;
  }

  async function change(
    access: AccountAccess,
    runnerId: string,
    context: RequestContext,
    apply: (
      trx: Tx,
      runner: RunnerRow,
    ) => Promise<{
      event: string;
      payload?: Record<string, string | boolean | null>;
      shutdown?: ShutdownReason;
    } | null>,
  ) {
    return db.transaction().execute(async (trx) => {
      const runner = await findRunner(trx, access, runnerId, true);
      const outcome = await apply(trx, runner);
      if (!outcome) return;
      if (outcome.shutdown) await notifyRunnerShutdown(bus, trx, runner.id, outcome.shutdown);
      await publishAccountEvent(bus, trx, {
        accountId: access.account.id,
        kind: 'runner',
        id: runner.id,
      });
      await recordAuditEvent(trx, {
        accountId: access.account.id,
        eventType: outcome.event,
        actor: access.actor,
        target: { kind: 'runner', id: runner.id, label: runner.name },
        payload: outcome.payload ?? {},
        context,
      });
    });
  }

  const update = (trx: Tx, runner: RunnerRow, values: Updateable<RunnersTable>) =>
    trx
      .updateTable('runners')
      .set(values)
      .where('id', '=', runner.id)
      .where('account_id', '=', runner.account_id)
      .execute();

  return {
    async listRunners(access: AccountAccess) {
      const rows = await db
        .selectFrom('runners')
        .selectAll()
        .where('account_id', '=', access.account.id)
        .where('deleted_at', 'is', null)
        .orderBy('group_name')
        .orderBy('name')
        .execute();
      const now = clock.now();
      return rows
        .filter((r) =>
          runnerInReach(access.membership.runner_access, { id: r.id, group: r.group_name }),
        )
        .map((r) => ({
          ...runnerView(r, now),
          issues: issuesOf(r, []),
        }));
    },

    async getRunner(access: AccountAccess, runnerId: string) {
      const row = await findRunner(db, access, runnerId);
      const actions = (await catalog.advertisedActions(db, access.account.id, row.id)).filter((a) =>
        packInReach(access.membership.pack_access, a.pack_id),
      );
      const refused = row.refused_actions.filter((a) =>
        packInReach(access.membership.pack_access, a.pack_id),
      );
      return {
        ...runnerView(row, clock.now()),
        issues: issuesOf(row, actions),
        actions,
        refused_actions: refused,
      };
    },

    disable: (access: AccountAccess, runnerId: string, context: RequestContext) =>
      change(access, runnerId, context, async (trx, runner) => {
        if (runner.disabled_at) return null;
        await update(trx, runner, { disabled_at: clock.now().toISOString() });
        return { event: 'runner.disabled', shutdown: 'runner_disabled' };
      }),

    enable: (access: AccountAccess, runnerId: string, context: RequestContext) =>
      change(access, runnerId, context, async (trx, runner) => {
        if (!runner.disabled_at) return null;
        await deps.accounts.lockAccount(trx, access.account.id);
        try {
          await checkRunnerLimit(trx, access.account.id, access.account.plan, runner.id);
        } catch (error) {
          if (!(error instanceof RunnerEndpointError)) throw error;
          throw new PaymentRequiredError(
            `The ${access.account.plan} plan allows ${error.extra.limit} active runners; disable or delete one first.`,
            'runner_limit_exceeded',
          );
        }
        await update(trx, runner, { disabled_at: null });
        return { event: 'runner.enabled' };
      }),

    remove: (access: AccountAccess, runnerId: string, context: RequestContext) =>
      change(access, runnerId, context, async (trx, runner) => {
        const now = clock.now();
        await update(trx, runner, {
          deleted_at: now.toISOString(),
          lease_expires_at: null,
          lease_node: null,
        });
        await revokeRunnerTokens(trx, { id: runner.id, accountId: runner.account_id }, now);
        await catalog.forgetRunnerActions(trx, { id: runner.id, accountId: runner.account_id });
        return {
          event: 'runner.deleted',
          payload: { external_id: runner.external_id },
          shutdown: 'runner_revoked',
        };
      }),

    setAwaitingReenrollment: (
      access: AccountAccess,
      runnerId: string,
      awaiting: boolean,
      context: RequestContext,
    ) =>
      change(access, runnerId, context, async (trx, runner) => {
        if (runner.awaiting_reenrollment === awaiting) return null;
        await update(trx, runner, { awaiting_reenrollment: awaiting });
        return {
          event: awaiting ? 'runner.awaiting_reenrollment' : 'runner.reenrollment_cancelled',
        };
      }),

    changeGroup: (
      access: AccountAccess,
      runnerId: string,
      group: string,
      context: RequestContext,
    ) =>
      change(access, runnerId, context, async (trx, runner) => {
        if (runner.group_name === group) return null;
        if (!runnerInReach(access.membership.runner_access, { id: runner.id, group })) {
          throw new ConflictError(
            'You cannot move a runner into a group outside your own reach.',
            'out_of_reach',
          );
        }
        await update(trx, runner, {
          group_name: group,
          asserted_group: runner.asserted_group === group ? null : runner.asserted_group,
        });
        return { event: 'runner.group_changed', payload: { from: runner.group_name, to: group } };
      }),
  };
}

export type FleetService = ReturnType<typeof createFleetService>;
