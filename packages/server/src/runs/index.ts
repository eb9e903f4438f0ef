// The runs domain's face: other domains and the composition root import only this.

export type { ClientInfo } from './create.js';
export { createRunRelease } from './release.js';
export { registerRunRoutes } from './routes.js';
export { createRunHooks } from './runner-hooks.js';
export type { RunService } from './service.js';
export { createRunService } from './service.js';
export { dispatchTimeoutJob } from './sweep.js';
export { accountTables, isTerminal } from './tables.js';
export type { RunRow } from './transitions.js';
