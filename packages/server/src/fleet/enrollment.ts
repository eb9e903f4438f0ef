import { ExternalIdSchema, RegisterRequestSchema } from '@emisar/protocol';
import type { AccountQueries } from '../accounts/index.js';
import { recordAuditEvent } from '../audit/index.js';
import { entitlementsOf } from '../billing/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AuditActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { GROUP_NAME } from '../core/parse-input.js';
import type { Db, Tx } from '../core/tx.js';
import {
  type LockedEnrollmentKey,
  lockEnrollmentKey,
  spendEnrollmentKeyUse,
} from '../credentials/index.js';
import { runnerRef } from './queries.js';
import { RunnerEndpointError } from './runner-errors.js';
import {
  authenticateRunnerToken,
  type IssuedRunnerToken,
  mintRunnerToken,
  type RunnerTokenCheck,
  revokeRunnerTokens,
} from './tokens.js';

export interface EnrollmentDeps {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  accounts: Pick<AccountQueries, 'lockAccount' | 'findAccountById'>;
  tokenTtlMs: number;
}

const DEFAULT_GROUP = 'default';

const PICK_ANOTHER_NAME =
  'give this one its own name with runner.id in its config (or EMISAR_RUNNER_ID)';

/** Whether a runner row's lease is live at `now` (online). */
export function leaseLive(leaseExpiresAt: string | null, now: Date): boolean {
  return leaseExpiresAt !== null && new Date(leaseExpiresAt) > now;
}

/**
 * `POST /runner/register` and `POST /runner/token/refresh`. Every refusal is a
 * RunnerEndpointError with the wire code; nothing is written on a refusal.
 */
// A service factory: long as a whole, each step and method within it short.
export function createEnrollmentService(deps: EnrollmentDeps) {
  const { db, clock, bus } = deps;

  /** Checks the body first: a bad external_id never consumes the key. */
  function parseRegistration(body: unknown) {
    const externalId = ExternalIdSchema.safeParse((body as { external_id?: unknown })?.external_id);
    if (!externalId.success) throw new RunnerEndpointError('invalid', 'invalid_external_id');
    const parsed = RegisterRequestSchema.safeParse(body);
    if (
      !parsed.success ||
      (parsed.data.group !== undefined && !GROUP_NAME.test(parsed.data.group))
    ) {
      throw new RunnerEndpointError('invalid', 'invalid_request');
    }
    return parsed.data;
  }

  async function reenroll(
    trx: Tx,
    key: LockedEnrollmentKey,
    existing: {
      id: string;
      name: string;
      enrolled_with_key_id: string | null;
      awaiting_reenrollment: boolean;
      lease_expires_at: string | null;
      group_name: string;
    },
    registration: ReturnType<typeof parseRegistration>,
    context: RequestContext,
  ): Promise<IssuedRunnerToken> {
    const now = clock.now();
    if (key.pinnedGroup !== null && key.pinnedGroup !== existing.group_name) {
      throw new RunnerEndpointError('forbidden', 'group_mismatch');
    }
    const originalKey = existing.enrolled_with_key_id === key.keyId;
    if (
      leaseLive(existing.lease_expires_at, now) ||
      !(originalKey || existing.awaiting_reenrollment)
    ) {
      throw new RunnerEndpointError('conflict', 'runner_exists', {
        name: existing.name,
        hint: `a runner named "${existing.name}" is already enrolled (connected now, or by another key); if this is another runner, ${PICK_ANOTHER_NAME}`,
      });
    }
    if (!originalKey) {
      if (key.exhausted) throw new RunnerEndpointError('unauthorized', 'enrollment_key_invalid');
      await spendEnrollmentKeyUse(trx, key, clock);
    }
    const runner = { id: existing.id, accountId: key.accountId };
    await revokeRunnerTokens(trx, runner, now);
    await trx
      .updateTable('runners')
      .set({
        hostname: registration.hostname,
        labels: JSON.stringify(registration.labels),
        version: registration.version,
        awaiting_reenrollment: false,
        reenrolled_at: now.toISOString(),
      })
      .where('id', '=', existing.id)
      .where('account_id', '=', key.accountId)
      .execute();
    const token = await mintRunnerToken(trx, runner, now, deps.tokenTtlMs);
    await publishAccountEvent(bus, trx, {
      accountId: key.accountId,
      kind: 'runner',
      id: existing.id,
    });
    await recordAuditEvent(trx, {
      accountId: key.accountId,
      eventType: 'runner.reenrolled',
      actor: runnerActor(existing),
      target: { kind: 'runner', id: existing.id, label: existing.name },
      payload: {
        enrollment_key_id: key.keyId,
        by: originalKey ? 'original_key' : 'awaiting_reenrollment',
        hostname: registration.hostname,
        version: registration.version,
      },
      context,
    });
    return token;
  }

  async function enroll(
    trx: Tx,
    key: LockedEnrollmentKey,
    group: string,
    registration: ReturnType<typeof parseRegistration>,
    context: RequestContext,
  ): Promise<IssuedRunnerToken> {
    if (key.exhausted) throw new RunnerEndpointError('unauthorized', 'enrollment_key_invalid');
    // One enrollment at a time per account, so the plan limit cannot be overrun by a race.
    await deps.accounts.lockAccount(trx, key.accountId);
    const account = await deps.accounts.findAccountById(trx, key.accountId);
    if (!account) throw new Error('an enrollment key outlived its account');
    await checkRunnerLimit(trx, key.accountId, account.plan);
    const name = registration.external_id;
    const taken = await trx
      .selectFrom('runners')
      .select('id')
      .where('account_id', '=', key.accountId)
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (taken) {
      throw new RunnerEndpointError('conflict', 'runner_name_taken', {
        name,
        hint: `another runner of this workspace is named "${name}"; ${PICK_ANOTHER_NAME}`,
      });
    }
    const now = clock.now();
    const runner = await trx
      .insertInto('runners')
      .values({
        account_id: key.accountId,
        name,
        external_id: registration.external_id,
        ref: runnerRef(name, registration.external_id),
        group_name: group,
        enrolled_with_key_id: key.keyId,
        hostname: registration.hostname,
        labels: JSON.stringify(registration.labels),
        version: registration.version,
        created_at: now.toISOString(),
      })
      .returning(['id', 'name', 'ref'])
      .executeTakeFirstOrThrow();
    await spendEnrollmentKeyUse(trx, key, clock);
    const token = await mintRunnerToken(
      trx,
      { id: runner.id, accountId: key.accountId },
      now,
      deps.tokenTtlMs,
    );
    await publishAccountEvent(bus, trx, {
      accountId: key.accountId,
      kind: 'runner',
      id: runner.id,
    });
    await recordAuditEvent(trx, {
      accountId: key.accountId,
      eventType: 'runner.enrolled',
      actor: runnerActor(runner),
      target: { kind: 'runner', id: runner.id, label: runner.name },
      payload: {
        enrollment_key_id: key.keyId,
        external_id: registration.external_id,
        ref: runner.ref,
        group,
        hostname: registration.hostname,
        version: registration.version,
      },
      context,
    });
    return token;
  }

  return {
    async register(
      bearer: string | null,
      body: unknown,
      context: RequestContext,
    ): Promise<IssuedRunnerToken> {
      const registration = parseRegistration(body);
      return db.transaction().execute(async (trx) => {
        const key = bearer ? await lockEnrollmentKey(trx, bearer, clock) : null;
        if (!key) throw new RunnerEndpointError('unauthorized', 'enrollment_key_invalid');
        if (
          key.pinnedGroup !== null &&
          registration.group !== undefined &&
          registration.group !== key.pinnedGroup
        ) {
          throw new RunnerEndpointError('forbidden', 'group_mismatch');
        }
        const existing = await trx
          .selectFrom('runners')
          .select([
            'id',
            'name',
            'enrolled_with_key_id',
            'awaiting_reenrollment',
            'lease_expires_at',
            'group_name',
          ])
          .where('account_id', '=', key.accountId)
          .where('external_id', '=', registration.external_id)
          .where('deleted_at', 'is', null)
          .forUpdate()
          .executeTakeFirst();
        if (existing) return reenroll(trx, key, existing, registration, context);
        const group = key.pinnedGroup ?? registration.group ?? DEFAULT_GROUP;
        return enroll(trx, key, group, registration, context);
      });
    },

    /** Checks a runner token as the socket upgrade presents it. */
    authenticate: (bearer: string | null): Promise<RunnerTokenCheck> =>
      authenticateRunnerToken(deps, bearer, clock.now()),

    async refresh(bearer: string | null): Promise<IssuedRunnerToken> {
      const now = clock.now();
      const check = await authenticateRunnerToken(deps, bearer, now);
      if (check.status !== 'ok') throw new RunnerEndpointError('unauthorized', check.status);
      const { runner } = check;
      if (runner.accountDisabled) throw new RunnerEndpointError('forbidden', 'account_disabled');
      if (runner.runnerDisabled) throw new RunnerEndpointError('forbidden', 'runner_disabled');
      if (new Date(runner.refreshAfter) > now) throw new RunnerEndpointError('conflict', 'not_due');
      return db.transaction().execute(async (trx) => {
        await trx
          .updateTable('runner_tokens')
          .set({ succeeded_at: now.toISOString() })
          .where('id', '=', runner.tokenId)
          .where('account_id', '=', runner.accountId)
          .where('succeeded_at', 'is', null)
          .execute();
        return mintRunnerToken(
          trx,
          { id: runner.runnerId, accountId: runner.accountId },
          now,
          deps.tokenTtlMs,
        );
      });
    },
  };
}

export type EnrollmentService = ReturnType<typeof createEnrollmentService>;

/** Live runners that count against the plan: not deleted, not disabled. */
export async function checkRunnerLimit(
  executor: Db,
  accountId: string,
  plan: string,
  excludeRunnerId?: string,
): Promise<void> {
  const limit = entitlementsOf(plan).runnersLimit;
  if (limit === null) return;
  let query = executor
    .selectFrom('runners')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .where('disabled_at', 'is', null);
  if (excludeRunnerId) query = query.where('id', '!=', excludeRunnerId);
  const { count } = await query.executeTakeFirstOrThrow();
  if (Number(count) >= limit) {
    throw new RunnerEndpointError('payment_required', 'runner_limit_exceeded', { plan, limit });
  }
}

export function runnerActor(runner: { id: string; name: string }): AuditActor {
  return { kind: 'runner', id: runner.id, label: runner.name };
}
