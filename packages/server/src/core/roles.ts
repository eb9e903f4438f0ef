/**
 * Roles are permission sets, not a ranking (control-plane spec, role table).
 * A grantor may hand out a role only if they hold every permission of it.
 */
export const ROLES = ['owner', 'admin', 'billing', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'account.view',
  'account.manage', // account, team and security settings
  'owners.manage', // only owners change owners
  'billing.manage',
  'billing.view',
  'fleet.view', // runners, runs, catalog, policies
  'audit.view',
  'audit.view_billing',
  'fleet.manage', // runners, enrollment keys, pack trust, policies
  'runs.dispatch',
  'runs.cancel',
  'approvals.decide',
  'grants.revoke',
  'api_keys.mint_own',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const VIEWING: Permission[] = ['account.view', 'billing.view', 'fleet.view', 'audit.view'];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  owner: new Set(PERMISSIONS),
  admin: new Set(PERMISSIONS.filter((p) => p !== 'owners.manage')),
  billing: new Set(['account.view', 'billing.manage', 'billing.view', 'audit.view_billing']),
  operator: new Set([
    ...VIEWING,
    'runs.dispatch',
    'runs.cancel',
    'approvals.decide',
    'api_keys.mint_own',
  ]),
  viewer: new Set(VIEWING),
};

/** The `api key` column: what an mcp key may do, further narrowed by its member's role. */
export const API_KEY_PERMISSIONS: ReadonlySet<Permission> = new Set([
  'account.view',
  'fleet.view',
  'runs.dispatch',
]);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function holdsEveryPermissionOf(actor: ReadonlySet<Permission>, target: Role): boolean {
  for (const permission of ROLE_PERMISSIONS[target]) if (!actor.has(permission)) return false;
  return true;
}

export type RunnerAccess =
  | { mode: 'none' }
  | { mode: 'all' }
  | { mode: 'restricted'; groups: string[]; runner_ids: string[] };

export type PackAccess = { mode: 'all' } | { mode: 'restricted'; pack_ids: string[] };

export const FULL_RUNNER_ACCESS: RunnerAccess = { mode: 'all' };
export const NO_RUNNER_ACCESS: RunnerAccess = { mode: 'none' };
export const FULL_PACK_ACCESS: PackAccess = { mode: 'all' };

/** Whether `held` covers everything `granted` reaches (a grantor hands out only what they hold). */
export function runnerAccessCovers(held: RunnerAccess, granted: RunnerAccess): boolean {
  if (granted.mode === 'none' || held.mode === 'all') return true;
  if (held.mode === 'none' || granted.mode === 'all') return false;
  return (
    granted.groups.every((g) => held.groups.includes(g)) &&
    granted.runner_ids.every((r) => held.runner_ids.includes(r))
  );
}

export function packAccessCovers(held: PackAccess, granted: PackAccess): boolean {
  if (held.mode === 'all') return true;
  if (granted.mode === 'all') return false;
  return granted.pack_ids.every((p) => held.pack_ids.includes(p));
}

/** Whether a runner is within reach; fleet and dispatch call this at request time. */
export function runnerInReach(
  access: RunnerAccess,
  runner: { id: string; group: string },
): boolean {
  if (access.mode === 'all') return true;
  if (access.mode === 'none') return false;
  return access.groups.includes(runner.group) || access.runner_ids.includes(runner.id);
}

export function packInReach(access: PackAccess, packId: string): boolean {
  return access.mode === 'all' || access.pack_ids.includes(packId);
}
