import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/** The database handle: one statement per call, or a transaction the callee opens. */
export type Db = Kysely<Database>;

/** An open transaction: functions that must run inside one take this, not `Db`. */
export type Tx = Transaction<Database>;
