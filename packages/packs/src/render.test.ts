import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionDefinition,
  actionDescriptor,
  descriptorDigest,
  loadPack,
  RenderError,
  renderInvocation,
  validateArgs,
} from './index.js';
import { actionDoc, type TempDir, tempDir, writePack } from './test-support/fixtures.js';

// The same functions against every action of the reference packs: render.reference.test.ts.

let tmp: TempDir;

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

function render(action: ActionDefinition, args: Record<string, unknown>) {
  const checked = validateArgs(action, args as never, { mode: 'lexical' });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return renderInvocation(action, checked.values);
}

async function fixture(overrides: Record<string, unknown>): Promise<ActionDefinition> {
  const dir = await writePack(path.join(tmp.path, `f${Math.random().toString(36).slice(2)}`), {
    actions: { 'actions/a.yaml': actionDoc(overrides) },
  });
  return (await loadPack(dir)).actions[0]!;
}

describe('renderInvocation', () => {
  it('passes `; rm -rf /` as one literal argv element', async () => {
    const action = await fixture({
      args: [{ name: 'word', type: 'string', required: true }],
      examples: [],
    });
    const invocation = render(action, { word: '; rm -rf /' });
    expect(invocation).toEqual({ file: 'echo', argv: ['; rm -rf /'], env: {}, cwd: '/' });
  });

  it('drops an element whose optional value is missing or empty, and fails on a missing required one', async () => {
    const action = await fixture({
      args: [
        { name: 'word', type: 'string' },
        { name: 'n', type: 'integer' },
      ],
      execution: {
        command: { binary: 'echo', argv: ['a', '--word={{ args.word? }}', '{{ args.n? }}', 'z'] },
        env: { WORD: '{{ args.word? }}', FIXED: 'x' },
        timeout: '5s',
      },
      examples: [],
    });
    expect(render(action, {}).argv).toEqual(['a', 'z']);
    expect(render(action, { word: '' }).argv).toEqual(['a', 'z']);
    expect(render(action, { word: 'w', n: 3 })).toMatchObject({
      argv: ['a', '--word=w', '3', 'z'],
      env: { WORD: 'w', FIXED: 'x' },
    });
    expect(render(action, {}).env).toEqual({ FIXED: 'x' });

    const strict = await fixture({
      args: [{ name: 'word', type: 'string' }],
      execution: { command: { binary: 'echo', argv: ['{{ args.word }}'] }, timeout: '5s' },
      examples: [],
    });
    expect(() => render(strict, {})).toThrow(RenderError);
  });

  it('handles args named like Object members', async () => {
    const action = await fixture({
      args: [
        { name: 'constructor', type: 'string' },
        { name: '__proto__', type: 'string' },
      ],
      execution: {
        command: { binary: 'echo', argv: ['{{ args.constructor? }}', '{{ args.__proto__? }}'] },
        timeout: '5s',
      },
      examples: [],
    });
    expect(render(action, {}).argv).toEqual([]);
    expect(render(action, JSON.parse('{"constructor": "c", "__proto__": "p"}')).argv).toEqual([
      'c',
      'p',
    ]);
  });
});

describe('actionDescriptor', () => {
  it('turns a lone `none` side effect into an empty list and changes the digest with the action', async () => {
    const action = await fixture({});
    const descriptor = actionDescriptor(action, { available: true });
    expect(descriptor.side_effects).toEqual([]);
    const riskier = actionDescriptor({ ...action, risk: 'high' }, { available: true });
    expect(descriptorDigest(riskier)).not.toBe(descriptorDigest(descriptor));
  });
});
