// The approvals domain's face: other domains and the composition root import only this.
export { createGrantService } from './grants.js';
export type { ApprovalQueries } from './queries.js';
export { approvalQueries } from './queries.js';
export { createReleaseChecks } from './release-checks.js';
export { registerApprovalRoutes } from './routes.js';
export type { RunRelease } from './run-release.js';
export type { ApprovalService, OpenApprovalInput } from './service.js';
export { createApprovalService } from './service.js';
export { approvalExpiryJob } from './sweep.js';
export { accountTables } from './tables.js';
