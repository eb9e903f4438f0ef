import {
  apiKeyLineage,
  isApiKeyLive,
  lineageKeyIds,
  liveLineageKeyHolders,
  revokeMembershipKeys,
} from './api-keys.js';

/** What other domains read and change of API keys. */
export const credentialQueries = {
  isApiKeyLive,
  revokeMembershipKeys,
  apiKeyLineage,
  liveLineageKeyHolders,
  lineageKeyIds,
};
export type CredentialQueries = typeof credentialQueries;
