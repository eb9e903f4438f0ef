import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import type { AccountQueries } from '../accounts/index.js';
import { recordAuditEvent } from '../audit/index.js';
import type { CatalogQueries } from '../catalog/index.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, InvalidParamsError, NotFoundError } from '../core/errors.js';
import { GROUP_NAME, parseInput, UUID_PATTERN } from '../core/parse-input.js';
import type { Database } from '../db/schema.js';
import type { FleetQueries } from '../fleet/index.js';
import { policyDiff } from './diff.js';
import type { PolicyRow, PolicyScope } from './queries.js';
import {
  evaluateRules,
  type PolicyRules,
  RISK_TIERS,
  rulesWarnings,
  validatePolicyRules,
} from './rules.js';

export interface ScopeRef {
  scope: PolicyScope;
  /** '' for the account; the group name or runner id. */
  ref: string;
}

const MAX_PREVIEW_ACTIONS = 2000;

const putSchema = z.strictObject({
  rules: z.unknown(),
  /** Optimistic concurrency: refuse when someone saved a newer version meanwhile. */
  expected_vsn: z.number().int().min(0).optional(),
});

const previewSchema = z.strictObject({
  rules: z.unknown(),
  scope: z
    .strictObject({
      kind: z.enum(['account', 'group', 'runner']),
      ref: z.string().max(100).optional(),
    })
    .default({ kind: 'account' }),
  /** Preview over these instead of the live catalog. */
  actions: z
    .array(z.strictObject({ action_id: z.string().min(1).max(200), risk: z.string().max(20) }))
    .max(MAX_PREVIEW_ACTIONS)
    .optional(),
});

const policyView = (row: PolicyRow) => ({
  id: row.id,
  scope: row.scope,
  scope_ref: row.scope_ref,
  vsn: row.vsn,
  rules: row.rules,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export type PolicyService = ReturnType<typeof createPolicyService>;

export interface PolicyServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  accounts: Pick<AccountQueries, 'findAccountById' | 'setAgentsStopped'>;
  fleet: Pick<FleetQueries, 'findRunnerForDispatch' | 'liveRunnerIds'>;
  catalog: Pick<CatalogQueries, 'advertisedActionRisks'>;
}

/** The policy editor: scoped rules, versions, preview and the agent stop switch. */
// A factory of short methods; only the whole is long.
export function createPolicyService(deps: PolicyServiceDeps) {
  const { db, clock } = deps;

  /** A group must be a valid group name; a runner must be a live runner of the account. */
  async function checkScope(executor: Kysely<Database>, accountId: string, target: ScopeRef) {
    if (target.scope === 'group' && !GROUP_NAME.test(target.ref)) {
      throw new InvalidParamsError('group: not a group name (a–z, 0–9, . _ -, up to 64).');
    }
    if (target.scope === 'runner') {
      const runner = await deps.fleet.findRunnerForDispatch(executor, accountId, target.ref);
      if (!runner || runner.deleted) throw new NotFoundError();
      return { ...target, ref: runner.id };
    }
    return target;
  }

  /**
   * A runner scope as stored (the runner's id), from its id, ref or name; the
   * id alone still names the policy of a runner since deleted.
   */
  async function storedScope(accountId: string, target: ScopeRef): Promise<ScopeRef> {
    if (target.scope !== 'runner' || UUID_PATTERN.test(target.ref)) {
      return target.scope === 'runner' ? { ...target, ref: target.ref.toLowerCase() } : target;
    }
    const runner = await deps.fleet.findRunnerForDispatch(db, accountId, target.ref);
    if (!runner) throw new NotFoundError();
    return { ...target, ref: runner.id };
  }

  const findLive = (executor: Kysely<Database>, accountId: string, target: ScopeRef) =>
    executor
      .selectFrom('policies')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('scope', '=', target.scope)
      .where('scope_ref', '=', target.ref)
      .where('deleted_at', 'is', null);

  /** The live catalog's actions with the risk each advertises, optionally for one scope. */
  async function catalogActions(accountId: string, target: ScopeRef | null) {
    const group = target?.scope === 'group' ? target.ref : undefined;
    const runnerIds = (await deps.fleet.liveRunnerIds(db, accountId, group)).filter(
      (id) => target?.scope !== 'runner' || id === target.ref,
    );
    return deps.catalog.advertisedActionRisks(db, accountId, runnerIds, MAX_PREVIEW_ACTIONS);
  }

  async function warningsFor(accountId: string, rules: PolicyRules) {
    const ids = (await catalogActions(accountId, null)).map((a) => a.action_id);
    return rulesWarnings(rules, ids);
  }

  return {
    async list(access: AccountAccess) {
      const rows = await db
        .selectFrom('policies')
        .selectAll()
        .where('account_id', '=', access.account.id)
        .where('deleted_at', 'is', null)
        .orderBy(sql`case scope when 'account' then 0 when 'group' then 1 else 2 end`)
        .orderBy('scope_ref')
        .execute();
      return {
        policies: rows.map(policyView),
        agents_stopped_at: access.account.agents_stopped_at,
      };
    },

    async get(access: AccountAccess, named: ScopeRef) {
      const target = await storedScope(access.account.id, named);
      const row = await findLive(db, access.account.id, target).executeTakeFirst();
      if (!row) throw new NotFoundError();
      return {
        policy: policyView(row),
        warnings: validatePolicyRules(row.rules).ok
          ? await warningsFor(access.account.id, row.rules)
          : [],
      };
    },

    async put(access: AccountAccess, target: ScopeRef, body: unknown, context: RequestContext) {
      const input = parseInput(putSchema, body);
      const validation = validatePolicyRules(input.rules);
      if (!validation.ok) {
        throw new InvalidParamsError(
          `The policy is not valid: ${validation.errors.join('; ')}`,
          'invalid_policy',
        );
      }
      const rules = validation.rules;
      const accountId = access.account.id;
      const saved = await db.transaction().execute(async (trx) => {
        const scoped = await checkScope(trx, accountId, target);
        const current = await findLive(trx, accountId, scoped).forUpdate().executeTakeFirst();
        if (input.expected_vsn !== undefined && (current?.vsn ?? 0) !== input.expected_vsn) {
          throw new ConflictError(
            'The policy was changed meanwhile; reload it and apply your edit again.',
            'policy_changed',
          );
        }
        const now = clock.now().toISOString();
        const row = current
          ? await trx
              .updateTable('policies')
              .set({ rules: JSON.stringify(rules), vsn: current.vsn + 1, updated_at: now })
              .where('id', '=', current.id)
              .returningAll()
              .executeTakeFirstOrThrow()
          : await trx
              .insertInto('policies')
              .values({
                account_id: accountId,
                scope: scoped.scope,
                scope_ref: scoped.ref,
                rules: JSON.stringify(rules),
                created_at: now,
                updated_at: now,
              })
              .returningAll()
              .executeTakeFirstOrThrow();
        const previous = current && validatePolicyRules(current.rules);
        await recordAuditEvent(trx, {
          accountId,
          eventType: 'policy.updated',
          actor: access.actor,
          target: { kind: 'policy', id: row.id, label: `${scoped.scope}:${scoped.ref}` },
          payload: {
            scope: scoped.scope,
            scope_ref: scoped.ref,
            vsn_from: current?.vsn ?? null,
            vsn: row.vsn,
            diff: policyDiff(previous?.ok ? previous.rules : null, rules),
          },
          context: context,
        });
        return row;
      });
      return { policy: policyView(saved), warnings: await warningsFor(accountId, rules) };
    },

    async remove(access: AccountAccess, named: ScopeRef, context: RequestContext) {
      const target = await storedScope(access.account.id, named);
      const accountId = access.account.id;
      await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('policies')
          .set({ deleted_at: clock.now().toISOString() })
          .where('account_id', '=', accountId)
          .where('scope', '=', target.scope)
          .where('scope_ref', '=', target.ref)
          .where('deleted_at', 'is', null)
          .returning(['id', 'vsn'])
          .executeTakeFirst();
        if (!row) throw new NotFoundError();
        await recordAuditEvent(trx, {
          accountId,
          eventType: 'policy.deleted',
          actor: access.actor,
          target: { kind: 'policy', id: row.id, label: `${target.scope}:${target.ref}` },
          payload: { scope: target.scope, scope_ref: target.ref, vsn: row.vsn },
          context: context,
        });
      });
      return { deleted: true };
    },

    /**
     * The decision candidate rules would give every action of the live
     * catalog (or the given list), next to today's decision, with the
     * editor's warnings. Invalid rules are reported, not refused.
     */
    async preview(access: AccountAccess, body: unknown) {
      const input = parseInput(previewSchema, body);
      const accountId = access.account.id;
      const target: ScopeRef = { scope: input.scope.kind, ref: input.scope.ref ?? '' };
      if (target.scope === 'account' && target.ref !== '') {
        throw new InvalidParamsError('scope.ref: the account scope takes no ref.');
      }
      const scoped = target.scope === 'account' ? target : await checkScope(db, accountId, target);
      const validation = validatePolicyRules(input.rules);
      const actions = input.actions ?? (await catalogActions(accountId, scoped));
      const current = await findLive(db, accountId, scoped).executeTakeFirst();
      const fallback = current
        ? null
        : await findLive(db, accountId, { scope: 'account', ref: '' }).executeTakeFirst();
      const today = current ?? fallback;
      return {
        valid: validation.ok,
        errors: validation.ok ? [] : validation.errors,
        catalog: input.actions ? 'given' : 'live',
        actions: actions.map((action) => {
          const candidate = evaluateRules(
            validation.ok ? validation.rules : null,
            action.action_id,
            action.risk,
          );
          const now = today ? evaluateRules(today.rules, action.action_id, action.risk) : null;
          return {
            action_id: action.action_id,
            risk: (RISK_TIERS as readonly string[]).includes(action.risk) ? action.risk : null,
            decision: candidate.decision,
            matched_rule: candidate.matchedRule,
            current_decision: now?.decision ?? 'deny',
            changed: (now?.decision ?? 'deny') !== candidate.decision,
          };
        }),
        warnings: validation.ok
          ? rulesWarnings(
              validation.rules,
              (input.actions ?? (await catalogActions(accountId, null))).map((a) => a.action_id),
            )
          : [],
      };
    },

    /** The big red button: deny every run from API keys and OAuth tokens, or resume them. */
    async setAgentStop(access: AccountAccess, body: unknown, context: RequestContext) {
      const { stopped } = parseInput(z.strictObject({ stopped: z.boolean() }), body);
      const accountId = access.account.id;
      return db.transaction().execute(async (trx) => {
        const now = clock.now().toISOString();
        const changed = await deps.accounts.setAgentsStopped(trx, accountId, stopped ? now : null);
        if (changed) {
          await recordAuditEvent(trx, {
            accountId,
            eventType: stopped ? 'account.agents_stopped' : 'account.agents_resumed',
            actor: access.actor,
            target: { kind: 'account', id: accountId, label: access.account.slug },
            payload: {},
            context: context,
          });
        }
        const account = await deps.accounts.findAccountById(trx, accountId);
        return { stopped, agents_stopped_at: account?.agents_stopped_at ?? null, changed };
      });
    },
  };
}
