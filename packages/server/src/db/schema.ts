import type { ColumnType, Generated } from 'kysely';

/** Timestamps are RFC 3339 UTC strings with microseconds on both backends. */
export type Timestamp = ColumnType<string, string | undefined, string>;

export interface AccountsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  plan: ColumnType<string, string | undefined, string>;
  created_at: Generated<string>;
}

export interface Database {
  accounts: AccountsTable;
}
