// The policy domain's face: other domains and the composition root import only this.

export type { DecidePolicy, PolicyOutcome, PolicyQuestion } from './decide.js';
export { createPolicyDecider, decidePolicy } from './decide.js';
export { createDefaultPolicy } from './default-policy.js';
export { registerPolicyRoutes } from './routes.js';
export type { PolicyRules } from './rules.js';
export { validatePolicyRules } from './rules.js';
export { createPolicyService } from './service.js';
export { accountTables } from './tables.js';
