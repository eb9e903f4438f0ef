// The credentials domain's face: other domains and the composition root import only this.
export { authenticateApiKey, createApiKey, isApiKeyLive } from './api-keys.js';
export type { LockedEnrollmentKey } from './enrollment-keys.js';
export {
  consumeEnrollmentKey,
  lockEnrollmentKey,
  spendEnrollmentKeyUse,
} from './enrollment-keys.js';
export { issueApiKey, issueEnrollmentKey } from './issue.js';
export type { CredentialQueries } from './queries.js';
export { credentialQueries } from './queries.js';
export { registerCredentialRoutes } from './routes.js';
export type { CredentialService } from './service.js';
export { createCredentialService } from './service.js';
export { accountTables } from './tables.js';
