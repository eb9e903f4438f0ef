import path from 'node:path';
import { stringifyJson } from '@emisar/protocol';
import Ajv2020 from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionDefinition,
  actionDescriptor,
  argSpecsFromDeclared,
  argsJsonSchema,
  clampOpts,
  descriptorDigest,
  type LoadedPack,
  loadPack,
  renderInvocation,
  validateArgs,
} from './index.js';
import {
  REFERENCE_PACK_IDS,
  REFERENCE_PACKS,
  withoutReferencePacks,
} from './test-support/fixtures.js';

describe.skipIf(withoutReferencePacks())('the reference packs', () => {
  let reference: LoadedPack[];

  beforeAll(async () => {
    reference = await Promise.all(
      REFERENCE_PACK_IDS.map((id) => loadPack(path.join(REFERENCE_PACKS, id))),
    );
  });

  function find(id: string): ActionDefinition {
    for (const pack of reference) {
      const action = pack.actions.find((a) => a.id === id);
      if (action) return action;
    }
    throw new Error(`no action ${id}`);
  }

  function render(action: ActionDefinition, args: Record<string, unknown>) {
    const checked = validateArgs(action, args as never, { mode: 'lexical' });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    return renderInvocation(action, checked.values);
  }

  describe('renderInvocation', () => {
    it('renders every example of every reference action to argv', () => {
      let rendered = 0;
      for (const pack of reference) {
        for (const action of pack.actions) {
          for (const example of action.examples) {
            const invocation = render(action, example.args);
            expect(invocation.file).toBe(action.execution.binary);
            expect(
              invocation.argv.every((arg) => typeof arg === 'string' && !arg.includes('{{')),
            ).toBe(true);
            rendered++;
          }
        }
      }
      expect(rendered).toBe(197);
    });

    it('expands arrays, renders booleans, numbers and Go durations', () => {
      const action = find('showcase.every_arg_type');
      expect(
        render(action, { mode: 'balanced', tags: ['red', 'green'], ids: [1, 2] }).argv,
      ).toEqual([
        'mode=balanced',
        'identifier=abc123',
        'port=8080',
        'ratio=0.5',
        'verbose=false',
        'window=5m0s',
        '--',
        'red',
        'green',
        '--',
        '1',
        '2',
      ]);
      expect(render(find('linux.journalctl'), { unit: 'nginx', since: '90m' }).argv).toContain(
        '1h30m0s ago',
      );
    });

    it('runs a script through its interpreter with the absolute script path first', () => {
      const action = find('showcase.script_action');
      const invocation = render(action, { message: 'hi', repeat: 2 });
      const pack = reference.find((p) => p.id === 'showcase')!;
      expect(invocation.file).toBe('/bin/bash');
      expect(invocation.argv).toEqual([
        path.join(pack.dir, 'scripts/echo_args.sh'),
        '--message',
        'hi',
        '--repeat',
        '2',
      ]);
      expect(invocation.scriptSha256).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('clampOpts', () => {
    const action = () => find('showcase.opts_envelope');

    it('uses the defaults without opts', () => {
      expect(clampOpts(action())).toEqual({
        timeoutMs: 5000,
        maxStdoutBytes: 4096,
        maxStderrBytes: 1024,
      });
    });

    it('clamps a wire timeout (nanoseconds) and byte caps into the declared bounds', () => {
      expect(
        clampOpts(action(), { timeout: 3_600_000_000_000, max_stdout_bytes: 10_000_000 }),
      ).toEqual({
        timeoutMs: 30_000,
        maxStdoutBytes: 65_536,
        maxStderrBytes: 1024,
      });
      expect(
        clampOpts(action(), { timeout: 1n, max_stdout_bytes: 1, max_stderr_bytes: 999_999 }),
      ).toEqual({
        timeoutMs: 2000,
        maxStdoutBytes: 1024,
        maxStderrBytes: 1024,
      });
      expect(clampOpts(action(), { timeout: 7_500_000_000n }).timeoutMs).toBe(7500);
    });

    it('does not let opts move a limit the action leaves unbounded', () => {
      expect(
        clampOpts(find('showcase.every_arg_type'), { timeout: 60_000_000_000 }).timeoutMs,
      ).toBe(5000);
    });
  });

  describe('actionDescriptor', () => {
    it('describes every reference action in the wire shape, with a stable digest', () => {
      for (const pack of reference) {
        for (const action of pack.actions) {
          const descriptor = actionDescriptor(action, { available: true });
          expect(descriptorDigest(descriptor)).toMatch(/^[0-9a-f]{64}$/);
          expect(descriptorDigest(descriptor)).toBe(
            descriptorDigest(actionDescriptor(action, { available: true })),
          );
        }
      }
    });

    it('shows what will execute, the limits in nanoseconds and a missing executable', () => {
      const descriptor = actionDescriptor(find('showcase.script_action'), {
        available: false,
        missing: '/bin/bash',
      });
      expect(descriptor.execution).toEqual({
        binary: '/bin/bash',
        argv: ['--message', '{{ args.message }}', '--repeat', '{{ args.repeat }}'],
        env_keys: [],
        cwd: '/',
        interpreter: '/bin/bash',
        script_path: 'scripts/echo_args.sh',
        script_sha256: find('showcase.script_action').execution.script!.sha256,
      });
      expect(descriptor.limits).toEqual({
        default_timeout: 5_000_000_000,
        timeout_min: 5_000_000_000,
        timeout_max: 5_000_000_000,
      });
      expect(descriptor.primary_executable_available).toBe(false);
      expect(descriptor.missing_executable).toBe('/bin/bash');
      const explain = actionDescriptor(find('postgres.explain_analyze'), { available: true });
      expect(explain.execution.env_keys).toEqual(['PGOPTIONS']);
    });
  });

  describe('argSpecsFromDeclared', () => {
    it('lets the control plane validate every reference example from descriptors alone', () => {
      for (const pack of reference) {
        for (const action of pack.actions) {
          const args = argSpecsFromDeclared(actionDescriptor(action, { available: true }).args);
          for (const example of action.examples) {
            const fromDescriptor = validateArgs({ args }, example.args, { mode: 'lexical' });
            expect(fromDescriptor, action.id).toEqual(
              validateArgs(action, example.args, { mode: 'lexical' }),
            );
          }
          expect(validateArgs({ args }, { surely_unknown: 1 }, { mode: 'lexical' }).ok).toBe(false);
        }
      }
    });
  });

  describe('argsJsonSchema', () => {
    it('accepts every reference example under a 2020-12 validator and rejects unknown args', () => {
      const ajv = new Ajv2020.default({ strict: false });
      for (const pack of reference) {
        for (const action of pack.actions) {
          const schema = JSON.parse(stringifyJson(argsJsonSchema(action)));
          const validate = ajv.compile(schema);
          for (const example of action.examples) {
            expect(validate(JSON.parse(stringifyJson(example.args))), `${action.id}`).toBe(true);
          }
          expect(validate({ not_an_arg_of_anything: 1 })).toBe(false);
        }
      }
    });

    it('maps types, bounds and enums', () => {
      const schema = argsJsonSchema(find('showcase.every_arg_type'));
      expect(schema.required).toEqual(['mode']);
      expect(schema.properties).toMatchObject({
        mode: { type: 'string', enum: ['fast', 'slow', 'balanced'] },
        port: { type: 'integer', enum: [80, 443, 8080, 8443], default: 8080 },
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        verbose: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' }, maxItems: 16 },
        ids: { type: 'array', items: { type: 'integer' }, maxItems: 32 },
      });
    });
  });
});
