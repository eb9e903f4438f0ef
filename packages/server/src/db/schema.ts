import type { AccountTables } from '../accounts/tables.js';
import type { ApprovalTables } from '../approvals/tables.js';
import type { AuditTables } from '../audit/tables.js';
import type { AuthTables } from '../auth/tables.js';
import type { CatalogTables } from '../catalog/tables.js';
import type { CredentialTables } from '../credentials/tables.js';
import type { FleetTables } from '../fleet/tables.js';
import type { LimitTables } from '../limits/tables.js';
import type { MailTables } from '../mail/tables.js';
import type { MemberTables } from '../members/tables.js';
import type { PolicyTables } from '../policy/tables.js';
import type { RunTables } from '../runs/tables.js';

/**
 * Every table, composed from the table types each domain declares in its
 * `tables.ts` (the only domain files this folder reads: types, no code).
 */
export interface Database
  extends AccountTables,
    AuthTables,
    MemberTables,
    CredentialTables,
    MailTables,
    AuditTables,
    FleetTables,
    CatalogTables,
    PolicyTables,
    RunTables,
    ApprovalTables,
    LimitTables {}
