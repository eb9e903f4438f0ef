import {
  apiKeyLineage,
  isApiKeyLive,
  liveLineageKeyHolders,
  revokeMembershipKeys,
} from './api-keys.js';

/** What other domains read and change of API keys. */
export const credentialQueries = {
  isApiKeyLive,
  revokeMembershipKeys,
  apiKeyLineage,
  liveLineageKeyHolders,
};
export type CredentialQueries = typeof credentialQueries;
