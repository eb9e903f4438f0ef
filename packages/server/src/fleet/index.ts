// The fleet domain's face: other domains and the composition root import only this.
export { fleetCleanupJob } from './cleanup.js';
export type { RunnerDownload } from './download-routes.js';
export { registerRunnerDownloadRoutes } from './download-routes.js';
export { createEnrollmentService } from './enrollment.js';
export type { RunnerGateway } from './gateway.js';
export { createRunnerGateway } from './gateway.js';
export type { AgentRunner, DispatchRunner, FleetQueries } from './queries.js';
export { findRunnerForDispatch, fleetQueries, runnerRef } from './queries.js';
export { registerFleetRoutes } from './routes.js';
export type { RunHooks, RunnerConnection } from './run-hooks.js';
export { createRunnerEndpointBudget } from './runner-budget.js';
export { registerRunnerRoutes } from './runner-routes.js';
export { notifyRunnerWork } from './runner-work.js';
export type { FleetService } from './service.js';
export { createFleetService } from './service.js';
export { accountTables } from './tables.js';
export type { TimingConfig } from './timing.js';
export { parseTimingConfig } from './timing.js';
