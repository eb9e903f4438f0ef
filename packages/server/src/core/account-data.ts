/**
 * A table that holds a workspace's data, and the column that names the
 * workspace. Each domain lists its own in `tables.ts`; exporting or erasing a
 * workspace walks all of them.
 */
export interface AccountDataTable {
  table: string;
  accountColumn: string;
}
