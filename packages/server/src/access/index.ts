// The access domain's face: other domains and the composition root import only this.
export { refreshAccountAccess, resolveAccountAccess } from './resolve.js';
