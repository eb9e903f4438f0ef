// The accounts domain's face: other domains and the composition root import only this.

export type { AccountQueries, AccountRow } from './queries.js';
export {
  accountIsUsable,
  accountQueries,
  changePlan,
  findAccountById,
  findLiveAccountBySlug,
  oldestLiveAccount,
  updateSettings,
} from './queries.js';
export type { AccountSettings } from './tables.js';
export { accountTables } from './tables.js';
