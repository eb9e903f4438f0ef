import { describe, expect, it } from 'vitest';
import { scanTopLevelMembers, unambiguousString } from './frame-envelope.js';

describe('scanTopLevelMembers', () => {
  it('reads top-level string members and skips everything below', () => {
    const text =
      ' {"type":"run_action","args":{"x":["}",{"y":"\\"]"}]},"n":-1e5,"request_id":"r\\u0031"} ';
    expect(scanTopLevelMembers(text)).toEqual([
      { key: 'type', value: 'run_action' },
      { key: 'args', value: undefined },
      { key: 'n', value: undefined },
      { key: 'request_id', value: 'r1' },
    ]);
  });

  it('reads past what the strict reader refuses below the top level', () => {
    const deep = `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)},"b":"x"}`;
    expect(scanTopLevelMembers(deep)?.at(1)).toEqual({ key: 'b', value: 'x' });
    expect(scanTopLevelMembers('{"a":{"d":1,"d":2},"b":"\\ud800"}')).toHaveLength(2);
  });

  it.each([
    '',
    '[]',
    '{',
    '{"a":1',
    '{"a":[1}',
    '{"a":"x"} trailing',
    '{"a" 1}',
    '{"a":"\\q"}',
    '{a:1}',
  ])('finds %j unreadable', (text) => {
    expect(scanTopLevelMembers(text)).toBeUndefined();
  });
});

describe('unambiguousString', () => {
  it('answers only for exactly one exactly-spelt string member', () => {
    expect(unambiguousString([{ key: 'request_id', value: 'a' }], 'request_id')).toBe('a');
    expect(
      unambiguousString([{ key: 'request_id', value: undefined }], 'request_id'),
    ).toBeUndefined();
    expect(unambiguousString([{ key: 'Request_Id', value: 'a' }], 'request_id')).toBeUndefined();
    expect(
      unambiguousString(
        [
          { key: 'request_id', value: 'a' },
          { key: 'REQUEST_ID', value: 'b' },
        ],
        'request_id',
      ),
    ).toBeUndefined();
    expect(
      unambiguousString(
        [
          { key: 'request_id', value: 'a' },
          { key: 'request_id', value: 'a' },
        ],
        'request_id',
      ),
    ).toBeUndefined();
  });
});
