import { isApiKeyLive, revokeMembershipKeys } from './api-keys.js';

/** What other domains read and change of API keys. */
export const credentialQueries = { isApiKeyLive, revokeMembershipKeys };
export type CredentialQueries = typeof credentialQueries;
