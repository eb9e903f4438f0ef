import type { AccountQueries, AccountRow } from '../accounts/index.js';
import { recordAuditEvents } from '../audit/index.js';
import type {
  AuthQueries,
  CreateWorkspace,
  ListWorkspaces,
  PersonWorkspace,
  WorkspaceRequest,
} from '../auth/index.js';
import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import type { Db, Tx } from '../core/tx.js';
import { insertOwnerMembership, joinedMembershipsOf } from './queries.js';

/** Gives a new workspace its default policy. Policies live above members: policy implements it. */
export type CreateDefaultPolicy = (trx: Tx, accountId: string) => Promise<void>;

export interface CreatedWorkspace {
  account: AccountRow;
  ownerMembershipId: string;
}

export interface WorkspaceDeps {
  clock: Clock;
  accounts: Pick<AccountQueries, 'createAccount'>;
  createDefaultPolicy: CreateDefaultPolicy;
}

/**
 * A workspace with its creator as owner (full access), the Free plan and the
 * default policy, all in the caller's transaction.
 */
export async function createWorkspace(
  trx: Tx,
  input: WorkspaceRequest,
  deps: WorkspaceDeps & { context?: RequestContext },
): Promise<CreatedWorkspace> {
  const account = await deps.accounts.createAccount(
    trx,
    { name: input.name, ...(input.slug !== undefined ? { slug: input.slug } : {}) },
    deps.clock,
  );
  const now = deps.clock.now().toISOString();
  const ownerMembershipId = await insertOwnerMembership(trx, account.id, input.owner.id, now);
  await deps.createDefaultPolicy(trx, account.id);
  const actor = userActor(input.owner);
  await recordAuditEvents(trx, [
    {
      accountId: account.id,
      eventType: 'account.created',
      actor,
      target: { kind: 'account', id: account.id, label: account.slug },
      payload: { name: account.name, slug: account.slug, plan: account.plan },
      context: deps.context,
    },
    {
      accountId: account.id,
      eventType: 'membership.created',
      actor,
      target: { kind: 'membership', id: ownerMembershipId, label: input.owner.email },
      payload: { role: 'owner' },
      context: deps.context,
    },
  ]);
  return { account, ownerMembershipId };
}

/** The live workspaces a person has joined, by name, with their role in each. */
export async function listWorkspaces(
  db: Db,
  accountQueries: Pick<AccountQueries, 'liveAccountsByName'>,
  userId: string,
): Promise<PersonWorkspace[]> {
  const memberships = await joinedMembershipsOf(db, userId);
  const accounts = await accountQueries.liveAccountsByName(
    db,
    memberships.map((m) => m.account_id),
  );
  return accounts.map((account) => {
    const membership = memberships.find((m) => m.account_id === account.id)!;
    return {
      slug: account.slug,
      name: account.name,
      role: membership.role,
      suspended_at: membership.suspended_at,
    };
  });
}

/** Workspaces people create (at sign-up or from the console) and the list of theirs. */
export function createWorkspaceService(
  deps: WorkspaceDeps & {
    db: Db;
    accounts: Pick<AccountQueries, 'createAccount' | 'liveAccountsByName'>;
    auth: Pick<AuthQueries, 'findUserById'>;
  },
) {
  const { db } = deps;
  const create: CreateWorkspace = (trx, input, context) =>
    createWorkspace(trx, input, { ...deps, context });
  const list: ListWorkspaces = (userId) => listWorkspaces(db, deps.accounts, userId);
  return {
    create,
    list,
    /** A signed-in person's new workspace. */
    async createFor(
      userId: string,
      input: Omit<WorkspaceRequest, 'owner'>,
      context: RequestContext,
    ): Promise<CreatedWorkspace> {
      const owner = (await deps.auth.findUserById(db, userId))!;
      return db
        .transaction()
        .execute((trx) => createWorkspace(trx, { ...input, owner }, { ...deps, context }));
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
