import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { ExactNumber } from './exact-number.js';
import { type DecodedFrame, decodeFrame, encodeFrame } from './frame-codec.js';
import {
  ACTION_RESULT_REASONS,
  ACTION_RESULT_STATUSES,
  FRAME_TYPES,
  type Frame,
  type RunActionFrame,
  type RunnerStateFrame,
  SHUTDOWN_REASONS,
} from './frames.js';
import { readGoldenFrames } from './golden.js';
import type { JsonObject } from './json-value.js';
import { stringifyJson } from './json-writer.js';
import { FRAME_MAX_BYTES, RUN_ACTION_FRAME_MAX_BYTES } from './limits.js';
import { parseStrictJson } from './strict-json.js';

const opts = { maxBytes: FRAME_MAX_BYTES };
const golden = readGoldenFrames();
const HASH = 'cfc2f6aa83108c16bb2256f79dd01cbd03c068c686f5d6ca8749882084b19775';

function goldenObject(type: string, index = 0): JsonObject {
  const frames = golden.map((text) => parseStrictJson(text) as JsonObject);
  return frames.filter((frame) => frame.type === type)[index]!;
}

/** A run_action text; `fields` is spliced in raw so tests can write exact JSON. */
function runAction({
  args = '{"pid":31337}',
  requestId = '"req_x1"',
  reason = '"drain stuck"',
  fields = '',
}: {
  args?: string;
  requestId?: string;
  reason?: string;
  fields?: string;
} = {}): string {
  return (
    `{"type":"run_action","protocol_version":1,"request_id":${requestId},"operation_id":"op_1",` +
    `"action_id":"debugging.kill_pid","expected_pack_hash":"sha256:${HASH}",` +
    `"pack_ref":"debugging@0.2.17/sha256:${HASH}","args":${args},"reason":${reason}${fields}}`
  );
}

function expectFrame(result: DecodedFrame) {
  if (result.kind !== 'frame') throw new Error(`expected a frame, got ${JSON.stringify(result)}`);
  return result;
}

function expectInvalid(result: DecodedFrame) {
  if (result.kind !== 'invalid') throw new Error(`expected invalid, got ${result.kind}`);
  expect(result.code).toBe('invalid_frame');
  expect(result.reason.length).toBeLessThanOrEqual(200);
  return result;
}

const padTo = (text: string, bytes: number) =>
  text.replace('"reason":"drain stuck"', `"reason":"${'x'.repeat(bytes - text.length + 11)}"`);

describe('golden frames', () => {
  it('hold an example of every frame type', () => {
    const types = new Set(golden.map((text) => (parseStrictJson(text) as JsonObject).type));
    expect([...types].sort()).toEqual([...FRAME_TYPES].sort());
  });

  it.each(golden.map((text) => [(parseStrictJson(text) as JsonObject).type, text]))(
    '%s decodes and re-encodes to an equal value',
    (_type, text) => {
      const { frame } = expectFrame(decodeFrame(text, opts));
      const again = encodeFrame(frame);
      expect(canonicalJson(parseStrictJson(again))).toBe(canonicalJson(parseStrictJson(text)));
      expect(expectFrame(decodeFrame(again, opts)).frame).toEqual(frame);
    },
  );

  it('give the run_action args back as their exact text', () => {
    const text = golden.find((t) => t.includes('"type":"run_action"'))!;
    expect(expectFrame(decodeFrame(text, opts)).rawArgs).toBe('{"pid":31337,"signal":"SIGTERM"}');
  });

  it('carry a complete descriptor with its execution block', () => {
    const text = golden.find((t) => t.includes('"type":"runner_state"'))!;
    const frame = expectFrame(decodeFrame(text, opts)).frame as RunnerStateFrame;
    expect(frame.actions).toHaveLength(1);
    expect(frame.actions[0]!.execution).toEqual({
      binary: 'kill',
      argv: ['-s', '{{ args.signal }}', '{{ args.pid }}'],
      env_keys: ['LANG', 'PATH'],
      cwd: '/',
      user: 'emisar-ops',
    });
  });
});

describe('decodeFrame', () => {
  it('reads the same frame from text and from bytes', () => {
    const text = runAction();
    expect(decodeFrame(new TextEncoder().encode(text), opts)).toEqual(decodeFrame(text, opts));
  });

  it('rejects duplicate keys at depth 5 but still names the request', () => {
    const result = expectInvalid(
      decodeFrame(runAction({ args: '{"a":{"b":{"c":{"d":1,"d":2}}}}' }), opts),
    );
    expect(result).toMatchObject({ type: 'run_action', requestId: 'req_x1' });
    expect(result.reason).toContain('duplicate_key');
  });

  it('rejects a duplicated request_id without naming either', () => {
    const result = expectInvalid(
      decodeFrame(runAction({ fields: ',"request_id":"req_x2"' }), opts),
    );
    expect(result.requestId).toBeUndefined();
  });

  it('rejects a case variant beside a field, without trusting the request id', () => {
    const result = expectInvalid(
      decodeFrame(runAction({ fields: ',"Request_ID":"req_x2"' }), opts),
    );
    expect(result.reason).toBe('request_id: case variant of a declared field');
    expect(result.requestId).toBeUndefined();
    expect(result.type).toBe('run_action');
  });

  it('rejects a case variant instead of a field', () => {
    const text = runAction().replace('"request_id"', '"REQUEST_ID"');
    const result = expectInvalid(decodeFrame(text, opts));
    expect(result.requestId).toBeUndefined();
  });

  it('rejects case variants of nested fields, type and protocol_version', () => {
    const nested = expectInvalid(decodeFrame(runAction({ fields: ',"opts":{"Timeout":5}' }), opts));
    expect(nested).toMatchObject({ requestId: 'req_x1' });
    expect(nested.reason).toBe('opts.timeout: case variant of a declared field');
    expectInvalid(decodeFrame(runAction({ fields: ',"Protocol_Version":1' }), opts));
    const type = expectInvalid(decodeFrame(runAction({ fields: ',"TYPE":"heartbeat"' }), opts));
    expect(type.type).toBeUndefined();
  });

  it('rejects a 129 KiB run_action, naming it when the frame fits the hard bound', () => {
    const text = padTo(runAction(), 129 * 1024);
    expect(Buffer.byteLength(text)).toBe(129 * 1024);
    expect(expectInvalid(decodeFrame(text, opts))).toMatchObject({ requestId: 'req_x1' });
    const unparsed = expectInvalid(decodeFrame(text, { maxBytes: RUN_ACTION_FRAME_MAX_BYTES }));
    expect(unparsed.requestId).toBeUndefined();
    expect(unparsed.type).toBeUndefined();
  });

  it('accepts a run_action of exactly 128 KiB', () => {
    const text = padTo(runAction(), RUN_ACTION_FRAME_MAX_BYTES);
    expect(Buffer.byteLength(text)).toBe(RUN_ACTION_FRAME_MAX_BYTES);
    expectFrame(decodeFrame(text, opts));
  });

  it.each(['"req 1"', '"req/../1"', '"réq"', `"${'x'.repeat(65)}"`, '""', '42'])(
    'answers a malformed request id %s with no request id',
    (requestId) => {
      const result = expectInvalid(decodeFrame(runAction({ requestId }), opts));
      expect(result.requestId).toBeUndefined();
      expect(result.type).toBe('run_action');
    },
  );

  it.each([
    ['args is an array', runAction({ args: '[1]' })],
    ['args is a string', runAction({ args: '"pid=1"' })],
    ['reason is empty', runAction({ reason: '""' })],
    ['reason is missing', runAction().replace(',"reason":"drain stuck"', '')],
    ['opts.timeout is zero', runAction({ fields: ',"opts":{"timeout":0}' })],
    [
      'opts.timeout is beyond 2^53',
      runAction({ fields: ',"opts":{"timeout":9223372036854775808}' }),
    ],
    [
      'opts.max_stdout_bytes is a fraction',
      runAction({ fields: ',"opts":{"max_stdout_bytes":1.5}' }),
    ],
    ['pack_ref is malformed', runAction().replace(/"pack_ref":"[^"]*"/, '"pack_ref":"debugging"')],
  ])('answers an invalid run_action (%s) with its well-formed request id', (_name, text) => {
    expect(expectInvalid(decodeFrame(text, opts))).toMatchObject({
      type: 'run_action',
      requestId: 'req_x1',
    });
  });

  it('sends a known frame with a missing or different protocol_version to close 1002', () => {
    for (const version of ['2', '"1"', 'null', '0', '1.5']) {
      const text = `{"type":"heartbeat","protocol_version":${version}}`;
      expect(decodeFrame(text, opts)).toEqual({ kind: 'protocol_version' });
    }
    expect(decodeFrame('{"type":"heartbeat"}', opts)).toEqual({ kind: 'protocol_version' });
    expect(
      decodeFrame(runAction().replace('"protocol_version":1', '"protocol_version":2'), opts),
    ).toEqual({ kind: 'protocol_version' });
  });

  it('ignores unknown frame types, whatever their version', () => {
    expect(decodeFrame('{"type":"telemetry","protocol_version":1,"x":[1]}', opts)).toEqual({
      kind: 'ignored',
      type: 'telemetry',
    });
    expect(decodeFrame('{"type":"telemetry","protocol_version":9}', opts)).toMatchObject({
      kind: 'ignored',
    });
  });

  it('ignores unknown fields and leaves them out of the frame', () => {
    const result = expectFrame(
      decodeFrame(runAction({ fields: ',"priority":5,"opts":{"timeout":5,"nice":1}' }), opts),
    );
    const frame = result.frame as RunActionFrame;
    expect(frame).not.toHaveProperty('priority');
    expect(frame).not.toHaveProperty('protocol_version');
    expect(frame.opts).toEqual({ timeout: 5 });
  });

  it('rejects invalid UTF-8 and binary-looking bytes without a request id', () => {
    const text = new TextEncoder().encode(runAction({ args: '{"p":"\u00e9"}' }));
    const broken = Uint8Array.from(text);
    broken[text.indexOf(0xc3)] = 0xff;
    expect(expectInvalid(decodeFrame(broken, opts)).requestId).toBeUndefined();
    const binary = expectInvalid(decodeFrame(new Uint8Array([0x00, 0x9f, 0x92, 0x96, 0xff]), opts));
    expect(binary.requestId).toBeUndefined();
  });

  it('rejects unpaired surrogates in a frame but still names the request', () => {
    const result = expectInvalid(decodeFrame(runAction({ args: '{"p":"\\udc00"}' }), opts));
    expect(result.reason).toContain('unpaired_surrogate');
    expect(result.requestId).toBe('req_x1');
  });

  it('accepts nesting of 64 and rejects 65, counting the frame itself', () => {
    const args = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    expectFrame(decodeFrame(runAction({ args: args(63) }), opts));
    const deep = expectInvalid(decodeFrame(runAction({ args: args(64) }), opts));
    expect(deep.reason).toContain('too_deep');
    expect(deep.requestId).toBe('req_x1');
  });

  it('keeps 2^63 exact from decode to encode', () => {
    const result = expectFrame(decodeFrame(runAction({ args: '{"n":9223372036854775808}' }), opts));
    const frame = result.frame as RunActionFrame;
    expect(frame.args.n).toEqual(new ExactNumber('9223372036854775808'));
    expect(encodeFrame(frame)).toContain('"args":{"n":9223372036854775808}');
  });

  it('gives the exact received args text, whitespace and spelling included', () => {
    const args = '{ "n" : 1.0e0 ,\n "big":1e400, "s":"\\u00e9" }';
    const result = expectFrame(decodeFrame(runAction({ args }), opts));
    expect(result.rawArgs).toBe(args);
    expect((result.frame as RunActionFrame).args).toEqual({
      n: 1,
      big: new ExactNumber('1e400'),
      s: 'é',
    });
  });

  it('bounds args by their exact UTF-8 bytes (32 KiB)', () => {
    const ascii = (bytes: number) => `{"s":"${'x'.repeat(bytes - 8)}"}`;
    expect(
      expectFrame(decodeFrame(runAction({ args: ascii(32 * 1024) }), opts)).rawArgs,
    ).toHaveLength(32 * 1024);
    const over = expectInvalid(decodeFrame(runAction({ args: ascii(32 * 1024 + 1) }), opts));
    expect(over).toMatchObject({ requestId: 'req_x1', reason: 'args exceeds 32768 bytes' });
    // 11,000 characters but 22,008 bytes: 'é' is two bytes.
    const wide = `{"s":"${'é'.repeat(16_381)}"}`;
    expect(wide.length).toBeLessThan(32 * 1024);
    expectInvalid(decodeFrame(runAction({ args: wide }), opts));
  });

  it.each([
    ['an array', '[{"type":"heartbeat","protocol_version":1}]'],
    ['a string', '"heartbeat"'],
    ['null', 'null'],
    ['an object without a type', '{"protocol_version":1}'],
    ['an object whose type is not a string', '{"type":7,"protocol_version":1}'],
    ['empty text', ''],
  ])('rejects %s', (_name, text) => {
    expectInvalid(decodeFrame(text, opts));
  });

  it('never echoes input in its reasons', () => {
    const secret = 'SECRET-hunter2';
    const texts = [
      runAction({ args: `{"${secret}":1,"${secret}":2}` }),
      runAction({ requestId: `"${secret} x"` }),
      runAction({ fields: `,"Opts":{"${secret}":1}` }),
      `{"type":"runner_state","protocol_version":1,"labels":{"${secret}":5}}`,
      `{"type":"${secret}`,
    ];
    for (const text of texts) {
      const result = expectInvalid(decodeFrame(text, opts));
      expect(result.reason).not.toContain('hunter2');
    }
  });
});

describe('frame fields', () => {
  const progress = (fields: string) =>
    `{"type":"action_progress","protocol_version":1,"request_id":"req_x1",${fields}}`;

  it('accepts dense positive seq and both streams', () => {
    expectFrame(decodeFrame(progress('"seq":1,"stream":"stdout","data":"a"'), opts));
    expectFrame(decodeFrame(progress('"seq":2,"stream":"stderr","data":""'), opts));
  });

  it.each([
    ['seq 0', '"seq":0,"stream":"stdout","data":"a"'],
    ['seq 1.5', '"seq":1.5,"stream":"stdout","data":"a"'],
    ['seq as a string', '"seq":"1","stream":"stdout","data":"a"'],
    ['seq beyond 2^53', '"seq":9007199254740993,"stream":"stdout","data":"a"'],
    ['stream stdin', '"seq":1,"stream":"stdin","data":"a"'],
    ['a chunk over 64 KiB', `"seq":1,"stream":"stdout","data":"${'x'.repeat(64 * 1024 + 1)}"`],
  ])('rejects action_progress with %s', (_name, fields) => {
    expect(expectInvalid(decodeFrame(progress(fields), opts)).requestId).toBe('req_x1');
  });

  it('accepts every result status and synthesised reason, and nothing else', () => {
    const base = goldenObject('action_result');
    for (const status of ACTION_RESULT_STATUSES) {
      expectFrame(decodeFrame(stringifyJson({ ...base, status }), opts));
    }
    for (const reason of ACTION_RESULT_REASONS) {
      expectFrame(decodeFrame(stringifyJson({ ...base, status: 'failed', reason }), opts));
    }
    expectInvalid(decodeFrame(stringifyJson({ ...base, status: 'ok' }), opts));
    expectInvalid(decodeFrame(stringifyJson({ ...base, reason: 'because' }), opts));
    expectInvalid(decodeFrame(stringifyJson({ ...base, stdout_sha256: 'ABC' }), opts));
    expectInvalid(
      decodeFrame(stringifyJson({ ...base, executed_command: 'x'.repeat(16 * 1024 + 1) }), opts),
    );
  });

  it('accepts every shutdown reason and nothing else', () => {
    for (const reason of SHUTDOWN_REASONS) {
      expectFrame(
        decodeFrame(`{"type":"shutdown","protocol_version":1,"reason":"${reason}"}`, opts),
      );
    }
    expectInvalid(decodeFrame('{"type":"shutdown","protocol_version":1,"reason":"reboot"}', opts));
  });

  it('checks error frames: code shape, optional well-formed request id, bounded message', () => {
    const error = (fields: string) => `{"type":"error","protocol_version":1,${fields}}`;
    expectFrame(
      decodeFrame(error('"code":"finalize_failed","request_id":"req_x1","message":"m"'), opts),
    );
    expectInvalid(decodeFrame(error('"code":"Finalize Failed","message":"m"'), opts));
    expectInvalid(decodeFrame(error('"code":"x","request_id":"req 1","message":"m"'), opts));
    expectInvalid(decodeFrame(error(`"code":"x","message":"${'m'.repeat(1025)}"`), opts));
  });
});

describe('encodeFrame', () => {
  it('writes type and protocol_version first', () => {
    expect(encodeFrame({ type: 'heartbeat' })).toBe('{"type":"heartbeat","protocol_version":1}');
    expect(encodeFrame({ type: 'cancel', request_id: 'req_x1' })).toBe(
      '{"type":"cancel","protocol_version":1,"request_id":"req_x1"}',
    );
  });

  it('leaves out undefined optional fields and unknown ones', () => {
    const frame = {
      type: 'error',
      code: 'invalid_frame',
      message: 'frame rejected',
      request_id: undefined,
      extra: 1,
    };
    expect(encodeFrame(frame as Frame)).toBe(
      '{"type":"error","protocol_version":1,"code":"invalid_frame","message":"frame rejected"}',
    );
  });

  it('refuses a frame its schema refuses', () => {
    expect(() => encodeFrame({ type: 'ack_result', request_id: 'req 1' })).toThrow(TypeError);
    expect(() => encodeFrame({ type: 'nope' } as unknown as Frame)).toThrow('unknown frame type');
    expect(() => encodeFrame({ type: 'constructor' } as unknown as Frame)).toThrow(
      'unknown frame type',
    );
  });

  it('refuses a runner_state over 2 MiB', () => {
    const state = goldenObject('runner_state') as unknown as RunnerStateFrame;
    const big = { ...state, labels: { note: 'x'.repeat(2 * 1024 * 1024) } };
    expect(() => encodeFrame(big)).toThrow(RangeError);
  });
});
