import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExactNumber, type JsonObject, parseStrictJson } from '@emisar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionDefinition, type ArgError, loadPack, validateArgs } from './index.js';
import { actionDoc, type TempDir, tempDir, writePack } from './test-support/fixtures.js';

let tmp: TempDir;
let action: ActionDefinition;
let fsAction: ActionDefinition;

const args = [
  { name: 'word', type: 'string', validation: { max_length: 4, pattern: '^[a-zé]+$' } },
  { name: 'flag', type: 'boolean' },
  { name: 'count', type: 'integer', validation: { min: 1, max: 10 } },
  { name: 'big', type: 'integer', validation: { min: 0, max: 9223372036854775807n } },
  { name: 'ratio', type: 'number', validation: { min: 0, max: 1 } },
  { name: 'mode', type: 'string', validation: { enum: ['fast', 'slow'] } },
  { name: 'window', type: 'duration', validation: { min_duration: '1s', max_duration: '2h' } },
  { name: 'tags', type: 'string_array', validation: { max_items: 2, max_length: 8 } },
  { name: 'ids', type: 'integer_array', validation: { max: 100 } },
  { name: 'token', type: 'string', sensitive: true, validation: { pattern: '^tok_[a-z]+$' } },
  {
    name: 'log',
    type: 'path',
    validation: { allowed_prefixes: ['/var/log/'], denied_paths: ['/var/log/secure'] },
  },
  { name: 'free', type: 'string' },
];

beforeAll(async () => {
  tmp = await tempDir();
  const pack = await writePack(path.join(tmp.path, 'pack'), {
    actions: {
      'actions/a.yaml': actionDoc({
        args,
        execution: { command: { binary: 'true', argv: [] }, timeout: '5s' },
        examples: [],
      }),
    },
  });
  action = (await loadPack(pack)).actions[0]!;

  // A host tree with real symlinks: allowed/escape -> ../secret, allowed/alias -> real.
  const root = tmp.path;
  for (const dir of ['allowed/real', 'secret', 'data'])
    await mkdir(path.join(root, dir), { recursive: true });
  await writeFile(path.join(root, 'secret/key'), 'k');
  await writeFile(path.join(root, 'allowed/real/file'), 'f');
  await symlink('../secret', path.join(root, 'allowed/escape'));
  await symlink('real', path.join(root, 'allowed/alias'));
  await symlink('../data', path.join(root, 'allowed/into-data'));
  await symlink('/nonexistent/target', path.join(root, 'allowed/dangling'));
  const fsPack = await writePack(path.join(tmp.path, 'fspack'), {
    actions: {
      'actions/a.yaml': actionDoc({
        args: [
          {
            name: 'file',
            type: 'path',
            validation: {
              allowed_prefixes: [path.join(root, 'allowed')],
              denied_prefixes: [path.join(root, 'allowed/real/private')],
            },
          },
          {
            name: 'files',
            type: 'string_array',
            validation: { allowed_prefixes: [path.join(root, 'allowed')] },
          },
        ],
        execution: { command: { binary: 'true', argv: [] }, timeout: '5s' },
        examples: [],
      }),
    },
  });
  fsAction = (await loadPack(fsPack)).actions[0]!;
});

afterAll(async () => {
  await tmp.remove();
});

function errorsOf(
  input: JsonObject,
  mode: 'host' | 'lexical' = 'lexical',
  on = action,
  protectedPaths?: string[],
): ArgError[] {
  const result = validateArgs(on, input, { mode, protectedPaths });
  return result.ok ? [] : result.errors;
}

function coercedValue(
  input: JsonObject,
  name: string,
  mode: 'host' | 'lexical' = 'lexical',
  on = action,
) {
  const result = validateArgs(on, input, { mode });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.values[name]?.value;
}

describe('validateArgs: bad input', () => {
  it('rejects unknown args and reports every error', () => {
    expect(errorsOf({ nope: 1, word: 'TOOLONGWORD' })).toEqual([
      { arg: 'nope', code: 'unknown_arg', reason: 'is not an argument of this action' },
      { arg: 'word', code: 'too_long', reason: 'exceeds 4 bytes' },
    ]);
  });

  it('bounds the echoed name of an unknown arg', () => {
    const [err] = errorsOf({ ['x'.repeat(10_000)]: 1 });
    expect(err!.arg.length).toBeLessThan(80);
  });

  it('rejects a missing required arg', async () => {
    const pack = await writePack(path.join(tmp.path, 'req'), {});
    const echo = (await loadPack(pack)).actions[0]!;
    expect(validateArgs(echo, {}, { mode: 'lexical' })).toEqual({
      ok: false,
      errors: [{ arg: 'word', code: 'required', reason: 'is required' }],
    });
    expect(validateArgs(echo, { word: null }, { mode: 'lexical' }).ok).toBe(false);
  });

  it('refuses "true" for a boolean and accepts a real boolean', () => {
    expect(errorsOf({ flag: 'true' })).toEqual([
      { arg: 'flag', code: 'type', reason: 'must be true or false (a JSON boolean)' },
    ]);
    expect(coercedValue({ flag: true }, 'flag')).toBe(true);
  });

  it('measures string length in UTF-8 bytes', () => {
    expect(coercedValue({ word: 'éé' }, 'word')).toBe('éé');
    expect(errorsOf({ word: 'ééé' })).toEqual([
      { arg: 'word', code: 'too_long', reason: 'exceeds 4 bytes' },
    ]);
    expect(errorsOf({ tags: ['ok', 'x'.repeat(9)] })[0]!.code).toBe('too_long');
  });

  it('rejects too many items', () => {
    expect(errorsOf({ tags: ['a', 'b', 'c'] })).toEqual([
      { arg: 'tags', code: 'too_many_items', reason: 'allows at most 2 items' },
    ]);
  });

  it('rejects out-of-range numbers, comparing exactly beyond 2^53', () => {
    expect(errorsOf({ count: 0 })[0]).toEqual({
      arg: 'count',
      code: 'range',
      reason: 'must be at least 1',
    });
    expect(errorsOf({ count: 11 })[0]!.code).toBe('range');
    expect(errorsOf({ ratio: new ExactNumber('1.0000000000000000000001') })[0]!.code).toBe('range');
    expect(errorsOf({ ids: [1, 101] })[0]!.code).toBe('range');
    const max = parseStrictJson('{"big": 9223372036854775807}') as JsonObject;
    expect(coercedValue(max, 'big')).toBe(9223372036854775807n);
    const over = parseStrictJson('{"big": 9223372036854775808}') as JsonObject;
    expect(errorsOf(over)[0]!.code).toBe('range');
  });

  it('coerces integers from integral floats, numeric strings and exact spellings', () => {
    expect(coercedValue({ count: '7' }, 'count')).toBe(7n);
    expect(coercedValue(parseStrictJson('{"count": 5.0}') as JsonObject, 'count')).toBe(5n);
    expect(coercedValue({ count: new ExactNumber('1e1') }, 'count')).toBe(10n);
    expect(errorsOf({ count: 2.5 })[0]!.code).toBe('type');
    expect(errorsOf({ count: '7 ' })[0]!.code).toBe('type');
    expect(errorsOf({ count: true })[0]!.code).toBe('type');
  });

  it('keeps a number as written', () => {
    expect(
      coercedValue(parseStrictJson('{"ratio": 0.1000000000000000000001}') as JsonObject, 'ratio'),
    ).toBe('0.1000000000000000000001');
    expect(errorsOf({ ratio: '0.5' })[0]!.code).toBe('type');
  });

  it('checks enum, pattern and durations', () => {
    expect(errorsOf({ mode: 'medium' })[0]!.code).toBe('enum');
    expect(errorsOf({ word: 'ab1' })[0]!.code).toBe('pattern');
    expect(coercedValue({ window: '1h30m' }, 'window')).toBe(5_400_000_000_000n);
    expect(errorsOf({ window: '3h' })[0]).toEqual({
      arg: 'window',
      code: 'duration',
      reason: 'must be at most 2h0m0s',
    });
    expect(errorsOf({ window: '500ms' })[0]!.code).toBe('duration');
    expect(errorsOf({ window: '1d' })[0]!.code).toBe('type');
    expect(errorsOf({ window: 60 })[0]!.code).toBe('type');
  });

  it('allows days and weeks in a pack-authored duration default, not in a caller value', async () => {
    const pack = await writePack(path.join(tmp.path, 'dur'), {
      actions: {
        'actions/a.yaml': actionDoc({
          args: [
            { name: 'since', type: 'duration', default: '1d', validation: { max_duration: '2w' } },
          ],
          execution: { command: { binary: 'true', argv: [] }, timeout: '5s' },
          examples: [],
        }),
      },
    });
    const since = (await loadPack(pack)).actions[0]!;
    expect(validateArgs(since, {}, { mode: 'lexical' })).toEqual({
      ok: true,
      values: Object.assign(Object.create(null), {
        since: { type: 'duration', value: 86_400_000_000_000n },
      }),
    });
    expect(validateArgs(since, { since: '1d' }, { mode: 'lexical' }).ok).toBe(false);
    expect(validateArgs(since, { since: '48h' }, { mode: 'lexical' }).ok).toBe(true);
  });

  it('refuses a NUL character, which no argv can carry', () => {
    expect(errorsOf({ free: 'a\0b' })[0]!.code).toBe('type');
  });

  it('masks the reason of a sensitive arg', () => {
    expect(errorsOf({ token: 'secret-value-123' })).toEqual([
      { arg: 'token', code: 'pattern', reason: 'value rejected (sensitive argument)' },
    ]);
  });
});

describe('validateArgs: paths', () => {
  it('cleans before checking, so ../ cannot leave an allowed prefix', () => {
    expect(errorsOf({ log: '/var/log/../../etc/shadow' })).toEqual([
      { arg: 'log', code: 'path_not_allowed', reason: 'is outside the allowed locations' },
    ]);
    expect(errorsOf({ log: '/var/log/nginx/../secure' })[0]!.code).toBe('path_denied');
    expect(coercedValue({ log: '/var/log//nginx/./access.log' }, 'log')).toBe(
      '/var/log/nginx/access.log',
    );
  });

  it('matches prefixes by whole path components', () => {
    expect(coercedValue({ log: '/var/log' }, 'log')).toBe('/var/log');
    expect(errorsOf({ log: '/var/logfoo/x' })[0]!.code).toBe('path_not_allowed');
  });

  it('requires an absolute path', () => {
    expect(errorsOf({ log: 'var/log/syslog' })[0]!.code).toBe('path_not_absolute');
  });

  it('follows real symlinks in host mode and refuses an escape the string alone hides', () => {
    const escaped = path.join(tmp.path, 'allowed/escape/key');
    expect(errorsOf({ file: escaped }, 'lexical', fsAction)).toEqual([]);
    expect(errorsOf({ file: escaped }, 'host', fsAction)).toEqual([
      { arg: 'file', code: 'path_not_allowed', reason: 'is outside the allowed locations' },
    ]);
    // A missing leaf resolves through its deepest existing parent.
    expect(
      errorsOf({ file: path.join(tmp.path, 'allowed/escape/new/file') }, 'host', fsAction)[0]!.code,
    ).toBe('path_not_allowed');
    expect(
      errorsOf({ files: [path.join(tmp.path, 'allowed/real/file'), escaped] }, 'host', fsAction)[0]!
        .code,
    ).toBe('path_not_allowed');
  });

  it('passes the resolved path on and re-checks deny rules on it', () => {
    const via = path.join(tmp.path, 'allowed/alias/file');
    expect(coercedValue({ file: via }, 'file', 'host', fsAction)).toBe(
      path.join(tmp.path, 'allowed/real/file'),
    );
    expect(coercedValue({ file: via }, 'file', 'lexical', fsAction)).toBe(via);
    const denied = path.join(tmp.path, 'allowed/alias/private/x');
    expect(errorsOf({ file: denied }, 'host', fsAction)[0]!.code).toBe('path_denied');
  });

  it('refuses a dangling symlink', () => {
    expect(
      errorsOf({ file: path.join(tmp.path, 'allowed/dangling') }, 'host', fsAction)[0]!.code,
    ).toBe('path_denied');
  });

  it('refuses paths into protected runner directories, directly or through a symlink', () => {
    const data = path.join(tmp.path, 'data');
    const open = {
      ...fsAction,
      args: [{ ...fsAction.args[0]!, validation: { maxLength: 4096, maxItems: 1 } }],
    };
    expect(errorsOf({ file: path.join(data, 'token') }, 'lexical', open, [data])[0]!.code).toBe(
      'protected_path',
    );
    expect(
      errorsOf({ file: path.join(tmp.path, 'allowed/into-data/x') }, 'host', open, [data]),
    ).toEqual([
      { arg: 'file', code: 'protected_path', reason: 'points into a protected runner directory' },
    ]);
  });
});
