import { describe, expect, it } from 'vitest';
import { descriptorDigest } from './descriptor-digest.js';
import { ExactNumber } from './exact-number.js';
import type { ActionDescriptor } from './frames.js';
import { readGoldenFrames } from './golden.js';
import type { JsonObject } from './json-value.js';
import { parseStrictJson } from './strict-json.js';

const state = parseStrictJson(readGoldenFrames()[0]!) as JsonObject;
const descriptor = (state.actions as JsonObject[])[0] as unknown as ActionDescriptor;

function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value === null || typeof value !== 'object' || value instanceof ExactNumber) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversed(v)]),
  );
}

describe('descriptorDigest', () => {
  it('is the lowercase hex SHA-256 of the canonical descriptor (vector from an independent encoder)', () => {
    // Python: sha256(json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    expect(descriptorDigest(descriptor)).toBe(
      'a6686c3c304de0edefa9984666e0abd2a2b3cde4850a89d4a468eefa4ac9a156',
    );
  });

  it('does not depend on member order', () => {
    expect(descriptorDigest(reversed(descriptor) as ActionDescriptor)).toBe(
      descriptorDigest(descriptor),
    );
  });

  it('changes when what executes or what is accepted changes', () => {
    const base = descriptorDigest(descriptor);
    const argv = {
      ...descriptor,
      execution: { ...descriptor.execution, argv: ['-9', '{{ args.pid }}'] },
    };
    expect(descriptorDigest(argv)).not.toBe(base);
    const args = descriptor.args.map((arg) =>
      arg.name === 'pid' ? { ...arg, validation: { min: 1, max: 4194304 } } : arg,
    );
    expect(descriptorDigest({ ...descriptor, args })).not.toBe(base);
    expect(descriptorDigest({ ...descriptor, risk: 'medium' })).not.toBe(base);
  });

  it('keeps exact numbers in declared args apart', () => {
    const withDefault = (literal: string) => ({
      ...descriptor,
      args: [{ name: 'n', type: 'integer', default: new ExactNumber(literal) }],
    });
    expect(descriptorDigest(withDefault('9223372036854775807'))).not.toBe(
      descriptorDigest(withDefault('9223372036854775808')),
    );
  });

  it('treats an unknown field and an undefined optional field as absent', () => {
    const base = descriptorDigest(descriptor);
    expect(descriptorDigest({ ...descriptor, extra: 1 } as ActionDescriptor)).toBe(base);
    expect(descriptorDigest({ ...descriptor, missing_executable: undefined })).toBe(base);
  });

  it('refuses a descriptor that fails its schema', () => {
    expect(() =>
      descriptorDigest({ ...descriptor, kind: 'shell' } as unknown as ActionDescriptor),
    ).toThrow();
  });
});
