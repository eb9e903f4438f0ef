import type { Migration } from 'kysely';
import * as m0001 from './0001_accounts.js';
import * as m0002 from './0002_identity.js';
import * as m0003 from './0003_audit.js';
import * as m0004 from './0004_fleet.js';
import * as m0005 from './0005_policy.js';
import * as m0006 from './0006_runs.js';
import * as m0006b from './0006b_run_timeout.js';
import * as m0008 from './0008_audit_deletion_guard.js';
import * as m0009 from './0009_uniform_sign_in.js';
import * as m0010 from './0010_refused_actions.js';

/** Every migration, in order. Names are permanent once released. */
export const migrations: Record<string, Migration> = {
  '0001_accounts': m0001,
  '0002_identity': m0002,
  '0003_audit': m0003,
  '0004_fleet': m0004,
  '0005_policy': m0005,
  '0006_runs': m0006,
  '0006b_run_timeout': m0006b,
  '0008_audit_deletion_guard': m0008,
  '0009_uniform_sign_in': m0009,
  '0010_refused_actions': m0010,
};
