import { accountTables as accounts } from './accounts/index.js';
import { accountTables as approvals } from './approvals/index.js';
import { accountTables as audit } from './audit/index.js';
import { accountTables as catalog } from './catalog/index.js';
import type { AccountDataTable } from './core/account-data.js';
import { accountTables as credentials } from './credentials/index.js';
import { accountTables as fleet } from './fleet/index.js';
import { accountTables as mail } from './mail/index.js';
import { accountTables as members } from './members/index.js';
import { accountTables as policy } from './policy/index.js';
import { accountTables as runs } from './runs/index.js';

/** Every table that holds a workspace's data, as each domain declares its own. */
export const ACCOUNT_DATA_TABLES: readonly AccountDataTable[] = [
  ...accounts,
  ...audit,
  ...mail,
  ...members,
  ...credentials,
  ...catalog,
  ...fleet,
  ...policy,
  ...approvals,
  ...runs,
];
