// The members domain's face: other domains and the composition root import only this.
export { mintBootstrapLink } from './bootstrap-link.js';
export { memberViews } from './member-support.js';
export { personAudit } from './person-audit.js';
export { setPlan } from './plans.js';
export type { MemberQueries } from './queries.js';
export {
  activeOwners,
  findActiveMembership,
  findJoinedMembership,
  findMembershipById,
  memberQueries,
  touchLastActive,
} from './queries.js';
export { registerMemberRoutes } from './routes.js';
export { createMemberService } from './service.js';
export { accountTables } from './tables.js';
export { registerWorkspaceRoutes } from './workspace-routes.js';
export { settingsChanger } from './workspace-settings.js';
export { createWorkspace, createWorkspaceService } from './workspaces.js';
