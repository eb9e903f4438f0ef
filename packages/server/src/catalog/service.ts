import { recordAuditEvent } from '../audit/index.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { packInReach } from '../core/roles.js';
import type { Db, Tx } from '../core/tx.js';
import { diffManifests, executionView } from './manifest-diff.js';
import type { TrustState } from './tables.js';

/** The runners fleet keeps that are not deleted: only their advertisements count. */
export interface LiveRunners {
  liveRunnerIds(db: Db, accountId: string): Promise<string[]>;
}

export interface CatalogDeps {
  db: Db;
  clock: Clock;
  bus: NotifyBus;
  runners: LiveRunners;
}

const sightingKey = (packId: string, version: string, hash: string) =>
  `${packId}@${version}/${hash}`;

/** Pack versions, their candidate hashes and the admin trust decisions. */
// A service factory: long as a whole, each step and method within it short.
export function createCatalogService(deps: CatalogDeps) {
  const { db, clock, bus } = deps;

  async function findVersion(executor: Db, access: AccountAccess, id: string, lock = false) {
    let query = executor
      .selectFrom('pack_versions')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', access.account.id);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row || !packInReach(access.membership.pack_access, row.pack_id)) throw new NotFoundError();
    return row;
  }

  async function findCandidate(
    executor: Db,
    access: AccountAccess,
    versionId: string,
    candidateId: string,
  ) {
    const row = await executor
      .selectFrom('pack_candidates')
      .selectAll()
      .where('id', '=', candidateId)
      .where('pack_version_id', '=', versionId)
      .where('account_id', '=', access.account.id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError();
    return row;
  }

  /** Recomputes the version's state from its candidates after a decision. */
  async function settle(trx: Tx, accountId: string, versionId: string) {
    const candidates = await trx
      .selectFrom('pack_candidates')
      .select(['hash', 'state', 'manifest'])
      .where('pack_version_id', '=', versionId)
      .where('account_id', '=', accountId)
      .execute();
    const trusted = candidates.find((c) => c.state === 'trusted');
    const state: TrustState = trusted
      ? 'trusted'
      : candidates.some((c) => c.state === 'pending')
        ? 'pending'
        : 'rejected';
    await trx
      .updateTable('pack_versions')
      .set({
        trust_state: state,
        trusted_hash: trusted?.hash ?? null,
        trusted_manifest: trusted ? JSON.stringify(trusted.manifest) : null,
        trusted_at: trusted ? clock.now().toISOString() : null,
      })
      .where('id', '=', versionId)
      .where('account_id', '=', accountId)
      .execute();
  }

  async function decide(
    access: AccountAccess,
    versionId: string,
    context: RequestContext,
    apply: (
      trx: Tx,
      version: Awaited<ReturnType<typeof findVersion>>,
    ) => Promise<{ event: string; payload: Record<string, string | boolean | null> } | null>,
  ) {
    await db.transaction().execute(async (trx) => {
      const version = await findVersion(trx, access, versionId, true);
      const outcome = await apply(trx, version);
      if (!outcome) return;
      await publishAccountEvent(bus, trx, {
        accountId: access.account.id,
        kind: 'trust',
        id: versionId,
      });
      await recordAuditEvent(trx, {
        accountId: access.account.id,
        eventType: outcome.event,
        actor: access.actor,
        target: {
          kind: 'pack_version',
          id: version.id,
          label: `${version.pack_id}@${version.version}`,
        },
        payload: { pack_id: version.pack_id, version: version.version, ...outcome.payload },
        context,
      });
    });
  }

  /** How many live runners advertise each `<pack>@<version>/<hash>`. */
  async function advertisingRunners(accountId: string): Promise<Map<string, number>> {
    const live = new Set(await deps.runners.liveRunnerIds(db, accountId));
    const rows = await db
      .selectFrom('runner_actions')
      .select(['runner_id', 'pack_id', 'pack_version', 'pack_hash'])
      .distinct()
      .where('account_id', '=', accountId)
      .execute();
    const counts = new Map<string, number>();
    for (const row of rows) {
      if (!live.has(row.runner_id)) continue;
      const key = sightingKey(row.pack_id, row.pack_version, row.pack_hash);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  const setCandidate = (
    trx: Db,
    accountId: string,
    id: string,
    state: 'trusted' | 'pending' | 'rejected',
  ) =>
    trx
      .updateTable('pack_candidates')
      .set({ state })
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .execute();

  /** The trusted candidate (if any) goes back to pending. */
  const untrustCurrent = (trx: Db, accountId: string, versionId: string) =>
    trx
      .updateTable('pack_candidates')
      .set({ state: 'pending' })
      .where('pack_version_id', '=', versionId)
      .where('account_id', '=', accountId)
      .where('state', '=', 'trusted')
      .execute();

  return {
    async listVersions(access: AccountAccess) {
      const versions = await db
        .selectFrom('pack_versions')
        .select([
          'id',
          'pack_id',
          'version',
          'trust_state',
          'trusted_hash',
          'trusted_at',
          'retired',
          'retirement_override',
          'first_seen_at',
          'last_seen_at',
        ])
        .where('account_id', '=', access.account.id)
        .orderBy('pack_id')
        .orderBy('version')
        .execute();
      const candidates = await db
        .selectFrom('pack_candidates as c')
        .select([
          'c.id',
          'c.pack_version_id',
          'c.hash',
          'c.state',
          'c.first_runner_id',
          'c.first_seen_at',
          'c.last_seen_at',
        ])
        .where('c.account_id', '=', access.account.id)
        .orderBy('c.first_seen_at')
        .execute();
      const runners = await advertisingRunners(access.account.id);
      return versions
        .filter((v) => packInReach(access.membership.pack_access, v.pack_id))
        .map((v) => ({
          ...v,
          dispatchable_retired: v.retired && !v.retirement_override,
          candidates: candidates
            .filter((c) => c.pack_version_id === v.id)
            .map(({ pack_version_id: _v, ...c }) => ({
              ...c,
              runners: runners.get(sightingKey(v.pack_id, v.version, c.hash)) ?? 0,
            })),
        }));
    },

    async candidateView(access: AccountAccess, versionId: string, candidateId: string) {
      const version = await findVersion(db, access, versionId);
      const candidate = await findCandidate(db, access, version.id, candidateId);
      return {
        pack_id: version.pack_id,
        version: version.version,
        hash: candidate.hash,
        state: candidate.state,
        trusted_hash: version.trusted_hash,
        execution: executionView(candidate.manifest),
        diff: diffManifests(version.trusted_manifest, candidate.manifest),
      };
    },

    trust: (
      access: AccountAccess,
      versionId: string,
      candidateId: string,
      context: RequestContext,
    ) =>
      decide(access, versionId, context, async (trx, version) => {
        const candidate = await findCandidate(trx, access, version.id, candidateId);
        if (candidate.state === 'trusted') return null;
        await untrustCurrent(trx, access.account.id, version.id);
        await setCandidate(trx, access.account.id, candidate.id, 'trusted');
        await settle(trx, access.account.id, version.id);
        return {
          event: 'pack_trust.trusted',
          payload: { hash: candidate.hash, previous_hash: version.trusted_hash },
        };
      }),

    reject: (
      access: AccountAccess,
      versionId: string,
      candidateId: string,
      context: RequestContext,
    ) =>
      decide(access, versionId, context, async (trx, version) => {
        const candidate = await findCandidate(trx, access, version.id, candidateId);
        if (candidate.state === 'trusted') {
          throw new ConflictError('This hash is trusted: revoke trust first.', 'candidate_trusted');
        }
        if (candidate.state === 'rejected') return null;
        await setCandidate(trx, access.account.id, candidate.id, 'rejected');
        await settle(trx, access.account.id, version.id);
        return { event: 'pack_trust.rejected', payload: { hash: candidate.hash } };
      }),

    revoke: (access: AccountAccess, versionId: string, context: RequestContext) =>
      decide(access, versionId, context, async (trx, version) => {
        if (!version.trusted_hash) return null;
        await untrustCurrent(trx, access.account.id, version.id);
        await settle(trx, access.account.id, version.id);
        return { event: 'pack_trust.revoked', payload: { hash: version.trusted_hash } };
      }),

    setRetirementOverride: (
      access: AccountAccess,
      versionId: string,
      override: boolean,
      context: RequestContext,
    ) =>
      decide(access, versionId, context, async (trx, version) => {
        if (version.retirement_override === override) return null;
        await trx
          .updateTable('pack_versions')
          .set({ retirement_override: override })
          .where('id', '=', version.id)
          .where('account_id', '=', access.account.id)
          .execute();
        return { event: 'pack_trust.retirement_override', payload: { override } };
      }),

    remove: (access: AccountAccess, versionId: string, context: RequestContext) =>
      decide(access, versionId, context, async (trx, version) => {
        await trx
          .deleteFrom('pack_versions')
          .where('id', '=', version.id)
          .where('account_id', '=', access.account.id)
          .execute();
        return { event: 'pack_trust.deleted', payload: { trusted_hash: version.trusted_hash } };
      }),
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
