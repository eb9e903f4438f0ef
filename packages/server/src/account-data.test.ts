import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_DATA_TABLES } from './account-data.js';
import { openTestStorage, type TestStorage } from './test-support/database.js';

let storage: TestStorage;
beforeAll(async () => {
  storage = await openTestStorage();
});
afterAll(() => storage.close());

async function columnsByTable(): Promise<Map<string, Set<string>>> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = current_schema()`.execute(storage.db);
  const tables = new Map<string, Set<string>>();
  for (const { table_name, column_name } of rows) {
    const columns = tables.get(table_name) ?? new Set();
    columns.add(column_name);
    tables.set(table_name, columns);
  }
  return tables;
}

describe('the tables that hold a workspace’s data', () => {
  it('are declared once each, exist, and have the column they name', async () => {
    const tables = await columnsByTable();
    const names = ACCOUNT_DATA_TABLES.map((t) => t.table);
    expect(new Set(names).size).toBe(names.length);
    for (const { table, accountColumn } of ACCOUNT_DATA_TABLES) {
      expect(tables.get(table), table).toBeDefined();
      expect([...tables.get(table)!], table).toContain(accountColumn);
    }
  });

  it('include every table with an account_id column, so export and erasure miss none', async () => {
    const tables = await columnsByTable();
    const keyed = [...tables].filter(([, columns]) => columns.has('account_id')).map(([t]) => t);
    const declared = new Set(ACCOUNT_DATA_TABLES.map((t) => t.table));
    expect(keyed.filter((table) => !declared.has(table))).toEqual([]);
    expect(declared.has('accounts')).toBe(true);
  });
});
