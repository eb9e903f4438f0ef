import type { JsonValue } from '@emisar/protocol';
import type { Kysely, Transaction } from 'kysely';
import { recordAuditEvent } from '../audit/record.js';
import { publishAccountEvent } from '../bus/account-events.js';
import type { NotifyBus } from '../bus/notify-bus.js';
import type { AccountAccess } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { packInReach } from '../core/roles.js';
import type { Database } from '../db/schema.js';
import type { PackManifest, TrustState } from './tables.js';

export interface CatalogDeps {
  db: Kysely<Database>;
  clock: Clock;
  bus: NotifyBus;
}

/** One field that differs between the trusted descriptor and a candidate's. */
export interface FieldChange {
  path: string;
  trusted: JsonValue | null;
  candidate: JsonValue | null;
}

export interface ManifestDiff {
  added: string[];
  removed: string[];
  changed: { action_id: string; changes: FieldChange[] }[];
}

const MAX_CHANGES_PER_ACTION = 200;

/** What a person trusting a candidate sees: what would execute, per action. */
function executionView(manifest: PackManifest) {
  return Object.values(manifest)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({
      action_id: d.id,
      title: d.title,
      risk: d.risk,
      kind: d.kind,
      execution: d.execution,
      args: d.args,
    }));
}

function flatten(value: unknown, path: string, out: Map<string, JsonValue>): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value);
    if (entries.length === 0) out.set(path, Array.isArray(value) ? [] : {});
    for (const [key, member] of entries) flatten(member, path ? `${path}.${key}` : key, out);
    return;
  }
  if (value !== undefined) out.set(path, value as JsonValue);
}

/** Field-level differences of every action between the trusted manifest and a candidate. */
export function diffManifests(trusted: PackManifest | null, candidate: PackManifest): ManifestDiff {
  const base = trusted ?? {};
  const diff: ManifestDiff = {
    added: Object.keys(candidate)
      .filter((id) => !(id in base))
      .sort(),
    removed: Object.keys(base)
      .filter((id) => !(id in candidate))
      .sort(),
    changed: [],
  };
  for (const id of Object.keys(candidate).sort()) {
    if (!(id in base)) continue;
    const before = new Map<string, JsonValue>();
    const after = new Map<string, JsonValue>();
    flatten(base[id], '', before);
    flatten(candidate[id], '', after);
    const changes: FieldChange[] = [];
    for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const a = before.get(path) ?? null;
      const b = after.get(path) ?? null;
      if (JSON.stringify(a) !== JSON.stringify(b)) changes.push({ path, trusted: a, candidate: b });
    }
    if (changes.length)
      diff.changed.push({ action_id: id, changes: changes.slice(0, MAX_CHANGES_PER_ACTION) });
  }
  return diff;
}

/** Pack versions, their candidate hashes and the admin trust decisions. */
export function createCatalogService(deps: CatalogDeps) {
  const { db, clock, bus } = deps;

  async function findVersion(
    executor: Kysely<Database>,
    access: AccountAccess,
    id: string,
    lock = false,
  ) {
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
    executor: Kysely<Database>,
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
  async function settle(trx: Transaction<Database>, accountId: string, versionId: string) {
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
      trx: Transaction<Database>,
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

  const setCandidate = (
    trx: Kysely<Database>,
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
  const untrustCurrent = (trx: Kysely<Database>, accountId: string, versionId: string) =>
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
        .innerJoin('pack_versions as v', 'v.id', 'c.pack_version_id')
        .select((eb) => [
          'c.id',
          'c.pack_version_id',
          'c.hash',
          'c.state',
          'c.first_runner_id',
          'c.first_seen_at',
          'c.last_seen_at',
          eb
            .selectFrom('runner_actions as ra')
            .innerJoin('runners as r', 'r.id', 'ra.runner_id')
            .select((sub) => sub.fn.count<number>('ra.runner_id').distinct().as('n'))
            .whereRef('ra.account_id', '=', 'c.account_id')
            .whereRef('ra.pack_id', '=', 'v.pack_id')
            .whereRef('ra.pack_version', '=', 'v.version')
            .whereRef('ra.pack_hash', '=', 'c.hash')
            .where('r.deleted_at', 'is', null)
            .as('runners'),
        ])
        .where('c.account_id', '=', access.account.id)
        .orderBy('c.first_seen_at')
        .execute();
      return versions
        .filter((v) => packInReach(access.membership.pack_access, v.pack_id))
        .map((v) => ({
          ...v,
          dispatchable_retired: v.retired && !v.retirement_override,
          candidates: candidates
            .filter((c) => c.pack_version_id === v.id)
            .map(({ pack_version_id: _v, runners, ...c }) => ({
              ...c,
              runners: Number(runners ?? 0),
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
