import { describe, expect, it } from 'vitest';
import { createTestDatabase, onPostgres } from '../test-support/database.js';
import { databaseFailure, openCheckedStorage } from './checked-storage.js';
import type { StorageTarget } from './database.js';

const at = (url: string): StorageTarget => ({ kind: 'postgres', url });
const failure = (url: string) =>
  openCheckedStorage(at(url)).then(
    () => expect.unreachable('the database answered'),
    (error: Error) => error.message,
  );

describe('a database that does not answer', () => {
  it('names a missing database with the command that creates it', () => {
    const message = databaseFailure(
      Object.assign(new Error('database "nc_missing" does not exist'), { code: '3D000' }),
      at('postgres://app:hunter2@db.internal:6543/nc_missing'),
    );
    expect(message).toBe(
      'the database "nc_missing" does not exist (PostgreSQL at db.internal:6543/nc_missing): create it with `createdb -h db.internal -p 6543 -U app nc_missing`, or point DATABASE_URL at an existing one',
    );
  });

  it('says that authentication failed, without the password', () => {
    const message = databaseFailure(
      Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }),
      at('postgres://app:hunter2@127.0.0.1:5432/emisar'),
    );
    expect(message).toMatch(
      /^PostgreSQL refused user "app" \(PostgreSQL at 127\.0\.0\.1:5432\/emisar\): authentication failed; check the user and password in DATABASE_URL$/,
    );
    expect(message).not.toContain('hunter2');
  });

  it('says the connection was refused and what to check', async () => {
    expect(await failure('postgres://app:hunter2@127.0.0.1:1/emisar')).toBe(
      'cannot reach the database (PostgreSQL at 127.0.0.1:1/emisar): connection refused; start PostgreSQL there or fix the host and port in DATABASE_URL',
    );
  });

  it.skipIf(!onPostgres)('names a database missing on a real server', async () => {
    const database = await createTestDatabase();
    try {
      const url = new URL(database.url!);
      url.pathname = `${url.pathname}_missing`;
      expect(await failure(url.toString())).toMatch(
        /^the database "\S+_missing" does not exist \(.*\): create it with `createdb /,
      );
    } finally {
      await database.drop();
    }
  });
});
