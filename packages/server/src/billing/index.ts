// The billing domain's face: other domains and the composition root import only this.

export type { Plan } from './plans.js';
export { entitlementsOf, isPlan, PLANS } from './plans.js';
