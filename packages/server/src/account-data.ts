import { accountTables as accounts } from './accounts/tables.js';
import { accountTables as approvals } from './approvals/tables.js';
import { accountTables as audit } from './audit/tables.js';
import { accountTables as catalog } from './catalog/tables.js';
import type { AccountDataTable } from './core/account-data.js';
import { accountTables as credentials } from './credentials/tables.js';
import { accountTables as fleet } from './fleet/tables.js';
import { accountTables as mail } from './mail/tables.js';
import { accountTables as members } from './members/tables.js';
import { accountTables as policy } from './policy/tables.js';
import { accountTables as runs } from './runs/tables.js';

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
