// The runs domain's face: other domains and the composition root import only this.
export { createRunRelease } from './release.js';
export { registerRunRoutes } from './routes.js';
export { createRunHooks } from './runner-hooks.js';
export { createRunService } from './service.js';
export { dispatchTimeoutJob } from './sweep.js';
export { accountTables } from './tables.js';
